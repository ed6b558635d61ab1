/**
 * Who may use the dashboard: requests must name the dashboard itself as `Host` (no DNS
 * rebinding) and, when they carry an `Origin`, come from its own page (no other web page
 * can drive it); off loopback, a token is required too.
 */
import { formatHostPort } from "../../protocol/address.ts";
import type { Destination } from "../../protocol/address.ts";
import { isLoopbackHost } from "../../common/security/loopback.ts";

export { isLoopbackHost };

/** Why a request was refused, or null when it may go on. */
export type Verdict = { status: 401 | 403; reason: string } | null;

/** The dashboard's access rules for one bound address. */
export class Guard {
  readonly #hosts: Set<string> | null;
  readonly #token: string | undefined;
  readonly cookieName: string;

  /**
   * @param bound the address the dashboard listens on (its real port)
   * @param token required from every request when set (off loopback)
   */
  constructor(bound: Destination, token?: string) {
    this.#token = token;
    this.cookieName = `swiftproxy_ui_${bound.port}`;
    // Off loopback the machine may have any number of names; the token protects it there.
    this.#hosts = isLoopbackHost(bound.host)
      ? new Set(
        [bound.host, "127.0.0.1", "localhost", "::1"].map((host) =>
          formatHostPort({ host, port: bound.port }).toLowerCase()
        ),
      )
      : null;
  }

  /** Checks `Host`, `Origin` and the token. */
  check(request: Request): Verdict {
    const host = request.headers.get("host")?.toLowerCase();
    if (!host) return { status: 403, reason: "no Host header" };
    if (this.#hosts && !this.#hosts.has(host)) {
      return { status: 403, reason: `foreign Host "${host}"` };
    }
    const origin = request.headers.get("origin");
    if (origin !== null && origin.toLowerCase() !== `http://${host}`) {
      return { status: 403, reason: `foreign Origin "${origin}"` };
    }
    if (this.#token !== undefined && !this.#tokenGiven(request)) {
      return { status: 401, reason: "missing or wrong token" };
    }
    return null;
  }

  /** True when `?token=` in the URL is the right token (the first visit's link). */
  urlToken(request: Request): boolean {
    const given = new URL(request.url).searchParams.get("token");
    return this.#token !== undefined && given !== null && sameText(given, this.#token);
  }

  /** A `Set-Cookie` value that keeps the token for the page's later requests. */
  cookie(): string {
    return `${this.cookieName}=${this.#token}; Path=/; HttpOnly; SameSite=Strict`;
  }

  #tokenGiven(request: Request): boolean {
    const token = this.#token!;
    if (this.urlToken(request)) return true;
    const bearer = /^Bearer\s+(\S+)$/i.exec(request.headers.get("authorization") ?? "");
    if (bearer && sameText(bearer[1]!, token)) return true;
    for (const part of (request.headers.get("cookie") ?? "").split(";")) {
      const [name, ...rest] = part.trim().split("=");
      if (name === this.cookieName && sameText(rest.join("="), token)) return true;
    }
    return false;
  }
}

/** A fresh random token for `--ui-token` when none is given. */
export function generateToken(): string {
  const bytes = crypto.getRandomValues(new Uint8Array(18));
  return btoa(String.fromCharCode(...bytes)).replaceAll("+", "-").replaceAll("/", "_");
}

function sameText(a: string, b: string): boolean {
  const x = new TextEncoder().encode(a);
  const y = new TextEncoder().encode(b);
  let diff = x.length ^ y.length;
  for (let i = 0; i < Math.max(x.length, y.length); i++) diff |= (x[i] ?? 0) ^ (y[i] ?? 0);
  return diff === 0;
}
