/**
 * The admin panel's request rules before any session is looked at: `Host` must be this
 * panel (on loopback: a loopback name, whatever port an `ssh -L` forwards from, so no DNS
 * rebinding), and an `Origin`, when sent, must be the page's own, so no other web page can
 * drive the panel with the admin's cookie.
 */
import { isLoopbackHost } from "../../common/security/loopback.ts";
import { timingSafeEqual } from "../../common/security/timing_safe.ts";

/** Why a request was refused (403), or null when it may go on. */
export function foreignRequest(request: Request, loopback: boolean, tls: boolean): string | null {
  const host = request.headers.get("host")?.toLowerCase();
  if (!host) return "no Host header";
  const hostname = host.replace(/:\d+$/, "");
  if (loopback && !isLoopbackHost(hostname)) return `foreign Host "${host}"`;
  const origin = request.headers.get("origin");
  if (origin !== null && origin.toLowerCase() !== `${tls ? "https" : "http"}://${host}`) {
    return `foreign Origin "${origin}"`;
  }
  return null;
}

/** The value of cookie `name` in `request`, if any. */
export function cookie(request: Request, name: string): string | undefined {
  for (const part of (request.headers.get("cookie") ?? "").split(";")) {
    const [key, ...rest] = part.trim().split("=");
    if (key === name) return rest.join("=");
  }
  return undefined;
}

/**
 * Whether `/metrics` may be read: always on a loopback listener (as Prometheus scrapes it
 * there), otherwise only with `Authorization: Bearer <token>`, and never without a token.
 */
export function metricsAllowed(request: Request, loopback: boolean, token?: string): boolean {
  if (loopback) return true;
  const given = bearerToken(request);
  return token !== undefined && token !== "" && given !== undefined &&
    timingSafeEqual(given, token);
}

/** The token of `Authorization: Bearer TOKEN`, or undefined when there is none. */
export function bearerToken(request: Request): string | undefined {
  return /^Bearer\s+(\S+)$/i.exec(request.headers.get("authorization") ?? "")?.[1];
}
