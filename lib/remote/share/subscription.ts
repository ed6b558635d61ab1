/**
 * A subscription's documents: the base64 link list most clients read, Clash Meta (mihomo) YAML
 * and sing-box JSON, chosen by the path's suffix or the client's User-Agent, and the
 * `subscription-userinfo` header clients show as a usage bar. Pure functions.
 */
import type { User } from "../store/user_store.ts";
import type { ShareEndpoint } from "./share.ts";
import { shareLink } from "./share.ts";

/** The documents a subscription comes as. */
export type SubscriptionFormat = "base64" | "clash" | "singbox";

/** One user's entry: who, the password, where, and the leaf certificate for a pin. */
export interface SubscriptionEntry {
  user: string;
  password: string;
  endpoint: ShareEndpoint;
  /** The leaf certificate (PEM) that `endpoint.pin` is the SHA-256 of; sing-box trusts it. */
  leafPem?: string;
}

/**
 * The format asked for: the path's suffix (`/clash`, `/singbox`) first, else the User-Agent
 * (mihomo, Clash, Stash → clash; sing-box and its apps → singbox), else base64.
 *
 * @example subscriptionFormat("", "clash.meta/1.18") // "clash"
 */
export function subscriptionFormat(suffix: string, userAgent: string): SubscriptionFormat {
  if (suffix === "clash" || suffix === "singbox") return suffix;
  if (suffix === "base64") return "base64";
  if (/sing-?box|\bSF[AIMT]\//i.test(userAgent)) return "singbox";
  if (/clash|mihomo|stash/i.test(userAgent)) return "clash";
  return "base64";
}

/**
 * The `subscription-userinfo` header's value from the user's row: bytes up and down, the quota
 * and the expiry in Unix seconds, 0 where unset.
 *
 * @example subscriptionUserinfo(user) // "upload=0; download=1024; total=0; expire=0"
 */
export function subscriptionUserinfo(user: User): string {
  const expire = user.expiresAt === null ? 0 : Math.floor(user.expiresAt / 1000);
  return `upload=${user.bytesUp}; download=${user.bytesDown}; total=${user.quota}; expire=${expire}`;
}

/** The entry's name in clients: `NAME@HOST`, as the link's label. */
function tag(entry: SubscriptionEntry): string {
  return `${entry.user}@${entry.endpoint.host}`;
}

/** A YAML scalar: JSON's double-quoted strings are YAML's too. */
const y = (value: string | number | boolean) => JSON.stringify(value);

function clash(entry: SubscriptionEntry): string {
  const { endpoint } = entry;
  const lines = [
    "proxies:",
    `  - name: ${y(tag(entry))}`,
    "    type: trojan",
    `    server: ${y(endpoint.host)}`,
    `    port: ${endpoint.port}`,
    `    password: ${y(`${entry.user}:${entry.password}`)}`,
    `    sni: ${y(endpoint.sni)}`,
    "    network: tcp",
    // The server relays UDP (Trojan's UDP ASSOCIATE), as the sing-box outbound's default.
    "    udp: true",
    "    skip-cert-verify: false",
    ...(endpoint.pin ? [`    fingerprint: ${y(endpoint.pin)}`] : []),
    "proxy-groups:",
    `  - name: "SwiftProxy"`,
    "    type: select",
    `    proxies: [${y(tag(entry))}, "DIRECT"]`,
    "rules:",
    `  - "MATCH,SwiftProxy"`,
  ];
  return lines.join("\n") + "\n";
}

function singbox(entry: SubscriptionEntry): string {
  const { endpoint } = entry;
  const tls: Record<string, unknown> = { enabled: true, server_name: endpoint.sni };
  // sing-box has no fingerprint option in every version: trusting the pinned leaf is the pin.
  if (endpoint.pin && entry.leafPem) tls.certificate = entry.leafPem.trim().split("\n");
  const document = {
    outbounds: [
      {
        type: "trojan",
        tag: tag(entry),
        server: endpoint.host,
        server_port: endpoint.port,
        password: `${entry.user}:${entry.password}`,
        // No "network": sing-box then carries TCP and UDP ("tcp" would turn UDP off).
        tls,
      },
      { type: "direct", tag: "direct" },
    ],
    route: { final: tag(entry) },
  };
  return JSON.stringify(document, null, 2) + "\n";
}

/**
 * The subscription document for `entry` in `format`, with its content type.
 *
 * @example const { body, contentType } = subscriptionDocument("clash", entry);
 */
export function subscriptionDocument(
  format: SubscriptionFormat,
  entry: SubscriptionEntry,
): { body: string; contentType: string } {
  switch (format) {
    case "clash":
      return { body: clash(entry), contentType: "text/yaml; charset=utf-8" };
    case "singbox":
      return { body: singbox(entry), contentType: "application/json; charset=utf-8" };
    default: {
      const list = shareLink(entry.user, entry.password, entry.endpoint) + "\n";
      const bytes = new TextEncoder().encode(list);
      return {
        body: btoa(String.fromCharCode(...bytes)),
        contentType: "text/plain; charset=utf-8",
      };
    }
  }
}
