/** The proxy auto-config file (`/proxy.pac`) that points a browser at the local proxy. */
import { formatHostPort, parseHostPort } from "../../protocol/address.ts";

/**
 * A PAC script sending everything but loopback through the proxy, SOCKS5 first (names are
 * resolved by the remote), the HTTP proxy as the fallback; never DIRECT.
 *
 * @param bound the listener's address while it runs
 * @param configured the listen setting, used while stopped
 */
export function proxyPac(bound: Deno.NetAddr | null, configured: string): string {
  let where: { host: string; port: number };
  try {
    where = bound
      ? { host: bound.hostname, port: bound.port }
      : parseHostPort(configured, "127.0.0.1");
  } catch {
    where = { host: "127.0.0.1", port: 1080 };
  }
  if (where.host === "0.0.0.0" || where.host === "") where = { ...where, host: "127.0.0.1" };
  if (where.host === "::") where = { ...where, host: "::1" };
  const proxy = formatHostPort(where);
  return [
    "function FindProxyForURL(url, host) {",
    '  if (host === "localhost" || host === "::1" || /^127\\./.test(host)) return "DIRECT";',
    `  return "SOCKS5 ${proxy}; SOCKS ${proxy}; PROXY ${proxy}";`,
    "}",
    "",
  ].join("\n");
}
