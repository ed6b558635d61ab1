/**
 * Who may use one of the programs' own pages, for the dashboard and the admin panel alike:
 * `Host` must name the page itself (on loopback a loopback name, so no DNS rebinding) and an
 * `Origin`, when sent, must be the page's own (no other web page can drive it with the
 * browser's cookies). Then one of two options: the dashboard's `token`, a secret every request
 * carries (`?token=`, `Authorization: Bearer`, or its cookie), or the admin's `session`, the
 * id in a cookie with a CSRF token for every change. Secrets are compared in constant time.
 */
import { formatHostPort } from "../../protocol/address.ts";
import type { Destination } from "../../protocol/address.ts";
import { isLoopbackHost } from "../security/loopback.ts";
import { timingSafeEqual } from "../security/timing_safe.ts";
import { cookieValue, cookieValues, setCookie } from "./cookies.ts";

/** Why a request was refused: 403 for a foreign request or a missing CSRF token, 401 else. */
export interface Refusal {
  status: 401 | 403;
  /** For the log; never holds a secret. */
  reason: string;
}

/** The sessions the `session` option reads (the admin panel's `AdminSessions`). */
export interface SessionBook<S> {
  /** The live session of `id`, or undefined. */
  find(id: string | undefined): S | undefined;
  /** Whether `given` (the `X-CSRF-Token` header) is the session's CSRF token. */
  csrfMatches(session: S, given: string | null): boolean;
}

/** How a page is guarded. */
export interface GuardOptions<S> {
  /** The address the page listens on, with its real port. */
  bound: Destination;
  /** Served over HTTPS: the page's `Origin` is `https://…`. */
  tls?: boolean;
  /**
   * On a loopback address, which `Host` is the page: `"bound"` only its loopback names at its
   * own port (the dashboard), `"any"` any loopback name at any port (the admin panel, reached
   * through `ssh -L` from whatever port). Off loopback any name is: the token or the session
   * protects the page there.
   */
  loopbackPorts: "bound" | "any";
  /** The dashboard's: required from every request, kept in the cookie `name`. */
  token?: { secret: string; cookie: string };
  /** The admin's: the cookie `name` holds a session of `book`. */
  session?: { cookie: string; book: SessionBook<S> };
}

/**
 * The access rules of one page.
 *
 * @example
 * const guard = new PageGuard({ bound: { host: "127.0.0.1", port: 9090 }, loopbackPorts: "bound" });
 * const refusal = guard.check(request); // null: it may go on
 */
export class PageGuard<S = never> {
  readonly #options: GuardOptions<S>;
  readonly #loopback: boolean;
  /** With `loopbackPorts: "bound"` on loopback: every `Host` that names the page. */
  readonly #hosts: Set<string> | null;

  constructor(options: GuardOptions<S>) {
    this.#options = options;
    const { host, port } = options.bound;
    this.#loopback = isLoopbackHost(host);
    this.#hosts = this.#loopback && options.loopbackPorts === "bound"
      ? new Set(
        [host, "127.0.0.1", "localhost", "::1"].map((name) =>
          formatHostPort({ host: name, port }).toLowerCase()
        ),
      )
      : null;
  }

  /** Whether the page listens on loopback. */
  get loopback(): boolean {
    return this.#loopback;
  }

  /** Checks `Host`, `Origin` and, with the `token` option, the token. */
  check(request: Request): Refusal | null {
    const host = request.headers.get("host")?.toLowerCase();
    if (!host) return { status: 403, reason: "no Host header" };
    const foreign = this.#hosts
      ? !this.#hosts.has(host)
      : this.#loopback && !isLoopbackHost(host.replace(/:\d+$/, ""));
    if (foreign) return { status: 403, reason: `foreign Host "${host}"` };
    const origin = request.headers.get("origin");
    const own = `${this.#options.tls ? "https" : "http"}://${host}`;
    if (origin !== null && origin.toLowerCase() !== own) {
      return { status: 403, reason: `foreign Origin "${origin}"` };
    }
    if (this.#options.token && !this.#tokenGiven(request, this.#options.token)) {
      return { status: 401, reason: "missing or wrong token" };
    }
    return null;
  }

  /** True when `?token=` in the URL is the `token` option's (the first visit's link). */
  urlToken(request: Request): boolean {
    const given = new URL(request.url).searchParams.get("token");
    const token = this.#options.token;
    return token !== undefined && given !== null && timingSafeEqual(given, token.secret);
  }

  /**
   * The `Set-Cookie` value that keeps the `token` option's secret for later requests; null
   * without that option.
   */
  tokenCookie(): string | null {
    const token = this.#options.token;
    if (!token) return null;
    return setCookie(token.cookie, token.secret, { httpOnly: true, sameSite: "Strict" });
  }

  /**
   * The `session` option's session of the request's cookie, with its id; a refusal without
   * one (401), or for a change (any method but GET and HEAD) without its CSRF token (403).
   */
  session(request: Request): { id: string; session: S } | Refusal {
    const option = this.#options.session;
    if (!option) throw new TypeError("the guard has no session option");
    const id = cookieValue(request.headers, option.cookie);
    const session = option.book.find(id);
    if (id === undefined || session === undefined) return { status: 401, reason: "not logged in" };
    const reading = request.method === "GET" || request.method === "HEAD";
    if (!reading && !option.book.csrfMatches(session, request.headers.get("x-csrf-token"))) {
      return { status: 403, reason: "no or wrong CSRF token" };
    }
    return { id, session };
  }

  /** The `Set-Cookie` value for the session `id`, living `ttlMs` (0: removes it). */
  sessionCookie(id: string, ttlMs: number): string {
    const option = this.#options.session;
    if (!option) throw new TypeError("the guard has no session option");
    return setCookie(option.cookie, id, {
      maxAgeS: ttlMs / 1000,
      httpOnly: true,
      sameSite: "Strict",
      secure: this.#options.tls === true,
    });
  }

  #tokenGiven(request: Request, token: { secret: string; cookie: string }): boolean {
    if (this.urlToken(request)) return true;
    const bearer = bearerToken(request);
    if (bearer !== undefined && timingSafeEqual(bearer, token.secret)) return true;
    return cookieValues(request.headers, token.cookie).some((v) =>
      timingSafeEqual(v, token.secret)
    );
  }
}

/**
 * The token of `Authorization: Bearer TOKEN`, or undefined when there is none.
 *
 * @example bearerToken(new Request("http://x/", { headers: { authorization: "Bearer t" } })) // "t"
 */
export function bearerToken(request: Request): string | undefined {
  return /^Bearer\s+(\S+)$/i.exec(request.headers.get("authorization") ?? "")?.[1];
}

/**
 * A fresh random token for the `token` option (the dashboard's `--ui-token` when none is given).
 *
 * @example const token = generateToken(); // 24 characters of base64url
 */
export function generateToken(): string {
  const bytes = crypto.getRandomValues(new Uint8Array(18));
  return btoa(String.fromCharCode(...bytes)).replaceAll("+", "-").replaceAll("/", "_");
}
