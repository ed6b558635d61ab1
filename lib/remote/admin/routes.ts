/**
 * The JSON API's routes as data: a method, a path template as the OpenAPI document writes it
 * (`/api/users/{name}`), who may call it and its handler. One router serves them all, and
 * `tests/remote/admin/openapi_test.ts` checks the document against this list.
 */
import type { Actor } from "../users/audit.ts";
import type { ApiDeps } from "./api.ts";
import type { AdminSession } from "./sessions.ts";

/** What a handler gets: the request, the path's parameters, who calls, what the API works on. */
export interface RouteContext {
  request: Request;
  url: URL;
  /** The `{…}` parameters of the path template, percent-encoded as they came. */
  params: Record<string, string>;
  actor: Actor;
  /** Its store records every change as `actor`'s. */
  deps: ApiDeps;
  /** The signed-in admin's session and its id; absent for a token. */
  session?: { id: string; session: AdminSession };
}

/** One route of the API. */
export interface AdminRoute {
  method: "GET" | "POST" | "PATCH" | "DELETE";
  /** The path template, e.g. `/api/users/{name}/link`. */
  path: string;
  /** Only for a signed-in admin (their session, their second factor), never a token. */
  sessionOnly?: boolean;
  handle(context: RouteContext): Promise<Response> | Response;
}

/** A route with its path template compiled. */
interface Compiled {
  route: AdminRoute;
  pattern: RegExp;
  names: string[];
}

/**
 * Finds the route for a method and path among `routes`.
 *
 * @example const match = new Router(routes).match("GET", "/api/users/alice");
 */
export class Router {
  readonly #compiled: Compiled[];

  constructor(readonly routes: readonly AdminRoute[]) {
    this.#compiled = routes.map((route) => {
      const names: string[] = [];
      const source = route.path.replace(/[.*+?^${}()|[\]\\]/g, "\\$&").replace(
        /\\\{(\w+)\\\}/g,
        (_, name: string) => {
          names.push(name);
          return "([^/]+)";
        },
      );
      return { route, pattern: new RegExp(`^${source}$`), names };
    });
  }

  /** The route and its parameters, or undefined when none matches (a 404). */
  match(
    method: string,
    path: string,
  ): { route: AdminRoute; params: Record<string, string> } | undefined {
    for (const { route, pattern, names } of this.#compiled) {
      if (route.method !== method) continue;
      const found = pattern.exec(path);
      if (found) {
        return { route, params: Object.fromEntries(names.map((n, i) => [n, found[i + 1]!])) };
      }
    }
    return undefined;
  }
}
