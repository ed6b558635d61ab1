/**
 * Cookies of the programs' own pages: the one parser of a request's `Cookie` header and the one
 * writer of `Set-Cookie` values (the dashboard's token, the admin's session, the language).
 */

/**
 * Every value of the cookie `name` in `headers`' `Cookie` header, in the order sent (a browser
 * may send two of one name, from different paths). Names are compared exactly; values are as
 * they came (an `=` inside one kept).
 *
 * @example cookieValues(new Headers({ cookie: "a=1; b=2=3" }), "b") // ["2=3"]
 */
export function cookieValues(headers: Headers, name: string): string[] {
  const values: string[] = [];
  for (const part of (headers.get("cookie") ?? "").split(";")) {
    const equals = part.indexOf("=");
    if (equals < 0) continue;
    if (part.slice(0, equals).trim() === name) values.push(part.slice(equals + 1).trim());
  }
  return values;
}

/**
 * The first value of the cookie `name`, or undefined when the request has none.
 *
 * @example cookieValue(request.headers, "swiftproxy_admin")
 */
export function cookieValue(headers: Headers, name: string): string | undefined {
  return cookieValues(headers, name)[0];
}

/** How a cookie is set: `Path=/` always; the rest as asked. */
export interface CookieOptions {
  /** Seconds it lives (0 removes it); absent, it ends with the browser session. */
  maxAgeS?: number;
  /** Hidden from the page's scripts. */
  httpOnly?: boolean;
  sameSite: "Strict" | "Lax";
  /** Sent back over HTTPS only. */
  secure?: boolean;
}

/**
 * A `Set-Cookie` value.
 *
 * @example setCookie("swiftproxy_lang", "en", { maxAgeS: 31536000, sameSite: "Lax" })
 * // "swiftproxy_lang=en; Path=/; Max-Age=31536000; SameSite=Lax"
 */
export function setCookie(name: string, value: string, options: CookieOptions): string {
  const maxAge = options.maxAgeS === undefined ? "" : `; Max-Age=${Math.floor(options.maxAgeS)}`;
  return `${name}=${value}; Path=/${maxAge}${options.httpOnly ? "; HttpOnly" : ""}` +
    `; SameSite=${options.sameSite}${options.secure ? "; Secure" : ""}`;
}
