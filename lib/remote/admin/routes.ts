/**
 * The JSON API's routes as data, for the one router (`lib/common/web/router.ts`): a method, a
 * path template as the OpenAPI document writes it (`/api/users/{name}`), who may call it and
 * its handler. `tests/remote/admin/openapi_test.ts` checks the document against this list.
 */
import type { Route, RouteContext as PageContext } from "../../common/web/router.ts";
import type { Actor } from "../users/audit.ts";
import type { ApiDeps } from "./api.ts";
import type { AdminSession } from "./sessions.ts";

/** What a handler gets: the request, the path's parameters, who calls, what the API works on. */
export interface RouteContext extends PageContext {
  actor: Actor;
  /** Its store records every change as `actor`'s. */
  deps: ApiDeps;
  /** The signed-in admin's session and its id; absent for a token. */
  session?: { id: string; session: AdminSession };
}

/** One route of the API. */
export interface AdminRoute extends Route<RouteContext> {
  /** Only for a signed-in admin (their session, their second factor), never a token. */
  sessionOnly?: boolean;
}
