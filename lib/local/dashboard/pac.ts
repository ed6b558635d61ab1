/** The proxy auto-config file (`/proxy.pac`) that points a browser at the local proxy. */
import { formatHostPort, parseHostPort } from "../../protocol/address.ts";
import type { NameRules } from "../../rules/domain_prefix.ts";

/**
 * A PAC script sending everything but loopback through the proxy, SOCKS5 first (names are
 * resolved by the remote), the HTTP proxy as the fallback; DIRECT only for loopback and for
 * the names the rules' domain prefix sends `DIRECT` (`domainPrefix`: the first of those rules
 * a name matches decides, as in the local; past them, the local decides).
 *
 * @param bound the listener's address while it runs
 * @param configured the listen setting, used while stopped
 * @param names the domain rules a browser can follow (none: everything to the proxy)
 */
export function proxyPac(
  bound: Deno.NetAddr | null,
  configured: string,
  names: ReadonlyMap<string, NameRules> = new Map(),
): string {
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
  const through = `"SOCKS5 ${proxy}; SOCKS ${proxy}; PROXY ${proxy}"`;
  const lines = [
    "function FindProxyForURL(url, host) {",
    '  if (host === "localhost" || host === "::1" || /^127\\./.test(host)) return "DIRECT";',
  ];
  if (names.size > 0) {
    // name -> [first DOMAIN rule: index, direct], [first DOMAIN-SUFFIX rule: index, direct]
    const table = Object.fromEntries([...names].map(([name, r]) => [name, [r.exact, r.suffix]]));
    lines.push(
      `  var rules = ${JSON.stringify(table)};`,
      '  var name = host.toLowerCase().replace(/\\.$/, "");',
      '  if (/^[0-9.]+$/.test(name) || name.indexOf(":") >= 0) return ' + through + ";",
      "  var best = null;",
      "  for (var at = name, exact = true; at; exact = false) {",
      "    var r = Object.prototype.hasOwnProperty.call(rules, at) ? rules[at] : null;",
      "    if (r && exact && r[0] && (!best || r[0][0] < best[0])) best = r[0];",
      "    if (r && r[1] && (!best || r[1][0] < best[0])) best = r[1];",
      '    var dot = at.indexOf(".");',
      '    at = dot < 0 ? "" : at.slice(dot + 1);',
      "  }",
      '  if (best && best[1]) return "DIRECT";',
    );
  }
  lines.push(`  return ${through};`, "}", "");
  return lines.join("\n");
}
