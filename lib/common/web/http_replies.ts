/** Replies of the programs' own web pages (dashboard, admin panel), with one set of headers. */

/** No caching, no sniffing, no framing, no referrer, and only the page's own scripts. */
export const SECURITY_HEADERS: Readonly<Record<string, string>> = {
  "cache-control": "no-store",
  "x-content-type-options": "nosniff",
  "x-frame-options": "DENY",
  "referrer-policy": "no-referrer",
  "content-security-policy":
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; " +
    "base-uri 'none'; form-action 'none'; frame-ancestors 'none'",
};

/** A reply of `type` with the security headers (and `extra` ones). */
export function respond(
  status: number,
  content: BodyInit,
  type: string,
  extra: Record<string, string> = {},
): Response {
  return new Response(content, {
    status,
    headers: { ...SECURITY_HEADERS, "content-type": type, ...extra },
  });
}

/** A JSON reply. @example json(404, { error: "no such user" }) */
export function json(status: number, value: unknown, extra: Record<string, string> = {}): Response {
  return respond(status, JSON.stringify(value), "application/json", extra);
}

/** A plain-text reply. */
export function text(status: number, content: string): Response {
  return respond(status, content, "text/plain; charset=utf-8");
}
