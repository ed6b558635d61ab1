/**
 * Routes as data, as Caddy's admin API has them: each page lists `{ method, path, handle }`
 * entries and one router finds the entry for a request. A path template names its parameters
 * in braces (`/api/users/{name}`, as OpenAPI writes them); a parameter is one path segment,
 * percent-encoded as it came. A path that no entry serves is a 404; one that other methods
 * serve is a 405 with `Allow`. `HEAD` is served by the `GET` entry (the web server sends no
 * body for it).
 */
import { respond, text } from "./http_replies.ts";

/** The methods a route may answer. */
export type Method = "GET" | "POST" | "PUT" | "PATCH" | "DELETE";

/** What every handler gets: the request, its URL and the path's parameters. */
export interface RouteContext {
  request: Request;
  url: URL;
  /** The `{…}` parameters of the path template, percent-encoded as they came. */
  params: Record<string, string>;
}

/** One route: a method, a path template and the handler (a page adds its own fields). */
export interface Route<C extends RouteContext = RouteContext> {
  method: Method;
  /** The path template, e.g. `/api/users/{name}/link`. */
  path: string;
  handle(context: C): Response | Promise<Response>;
}

/** What {@linkcode Router.find} found: the route and its parameters, or the methods allowed. */
export type Found<R> =
  | { route: R; params: Record<string, string> }
  | { route: undefined; allow: string[] };

/** A route with its path template compiled. */
interface Compiled<R> {
  route: R;
  pattern: RegExp;
  names: string[];
}

/**
 * Finds the route for a method and a path among `routes` (the first that matches).
 *
 * @throws {TypeError} from the constructor when two routes have one method and path
 * @example
 * const router = new Router([{ method: "GET", path: "/api/users/{name}", handle }]);
 * router.find("GET", "/api/users/alice"); // { route, params: { name: "alice" } }
 */
export class Router<R extends { method: Method; path: string }> {
  readonly #compiled: Compiled<R>[];

  constructor(readonly routes: readonly R[]) {
    const seen = new Set<string>();
    this.#compiled = routes.map((route) => {
      const key = `${route.method} ${route.path}`;
      if (seen.has(key)) throw new TypeError(`two routes for ${key}`);
      seen.add(key);
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

  /** The route for `method` (`HEAD` as `GET`) and `path`, or the methods `path` allows. */
  find(method: string, path: string): Found<R> {
    const wanted = method === "HEAD" ? "GET" : method;
    const allow = new Set<string>();
    for (const { route, pattern, names } of this.#compiled) {
      const found = pattern.exec(path);
      if (!found) continue;
      if (route.method === wanted) {
        return { route, params: Object.fromEntries(names.map((n, i) => [n, found[i + 1]!])) };
      }
      allow.add(route.method);
      if (route.method === "GET") allow.add("HEAD");
    }
    return { route: undefined, allow: [...allow] };
  }
}

/**
 * The plain-text answer for a path no route serves: 404, or 405 with `Allow` when other
 * methods serve it.
 *
 * @example const found = router.find(request.method, url.pathname);
 * if (!found.route) return unrouted(found.allow);
 */
export function unrouted(allow: readonly string[]): Response {
  if (allow.length === 0) return text(404, "Not Found\n");
  return respond(405, "Method Not Allowed\n", "text/plain; charset=utf-8", {
    allow: allow.join(", "),
  });
}

/**
 * Serves `request` with the route `router` finds for it, else {@linkcode unrouted}'s answer.
 *
 * @example handler: (request) => route(router, request)
 */
export async function route(router: Router<Route>, request: Request): Promise<Response> {
  const url = new URL(request.url);
  const found = router.find(request.method, url.pathname);
  if (!found.route) return unrouted(found.allow);
  return await found.route.handle({ request, url, params: found.params });
}
