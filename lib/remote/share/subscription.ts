/**
 * A subscription's documents: the base64 link list most clients read, Clash Meta (mihomo) YAML
 * and sing-box JSON, chosen by the path's suffix or the client's User-Agent, and the headers
 * clients read beside them (`subscription-userinfo` for a usage bar, the update interval, the
 * profile's title, file name, web page and support link). Pure functions.
 */
import type { User } from "../store/user_store.ts";
import type { ShareEndpoint } from "./share.ts";
import { shareLink } from "./share.ts";
import { type ClientRules, portableRules } from "../../rules/client_rules.ts";
import { formatLocalSubscription } from "../../rules/local_subscription.ts";
import { clashRules, singBoxRoute } from "./subscription_rules.ts";

/** The documents a subscription comes as; `local` is `swiftproxy-local`'s own. */
export type SubscriptionFormat = "base64" | "clash" | "singbox" | "local";

/** One user's entry: who, the password, where, and the leaf certificate for a pin. */
export interface SubscriptionEntry {
  user: string;
  password: string;
  endpoint: ShareEndpoint;
  /** The leaf certificate (PEM) that `endpoint.pin` is the SHA-256 of; sing-box trusts it. */
  leafPem?: string;
  /**
   * Base64 SHA-256 of the leaf's public key (SPKI), set only for a sing-box that pins keys
   * ({@linkcode pinsPublicKeys}): its profile pins the key instead of embedding the leaf.
   */
  publicKeyPin?: string;
  /** The admin's client rules (`serve --client-rules`), carried in every format but base64. */
  rules?: ClientRules;
}

/** What the admin says of every subscription (`serve --name`, `--sub-update-hours`, `--support-url`). */
export interface SubscriptionOptions {
  /** How often clients should fetch the subscription again, in hours. */
  updateHours: number;
  /** The server's name in clients (`profile-title`); default: the public host. */
  name?: string;
  /** Where users get help (`support-url`), if anywhere. */
  supportUrl?: string;
}

/**
 * The format asked for: the path's suffix (`/clash`, `/singbox`, `/local`) first, else the
 * User-Agent (mihomo, Clash, Stash → clash; sing-box and its apps → singbox; swiftproxy-local
 * → local), else base64.
 *
 * @example subscriptionFormat("", "clash.meta/1.18") // "clash"
 */
export function subscriptionFormat(suffix: string, userAgent: string): SubscriptionFormat {
  if (suffix === "clash" || suffix === "singbox" || suffix === "local") return suffix;
  if (suffix === "base64") return "base64";
  if (/^swiftproxy-local\//i.test(userAgent)) return "local";
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

/**
 * Whether the client behind `userAgent` is a sing-box that pins public keys: its TLS option
 * `certificate_public_key_sha256` exists since sing-box 1.13.0, and an older one refuses a
 * profile with an option it does not know, so only a User-Agent naming 1.13 or later gets it.
 *
 * @example pinsPublicKeys("SFA/1.13.0 (sing-box 1.13.0)") // true
 */
export function pinsPublicKeys(userAgent: string): boolean {
  const version = /sing-box[ /]v?(\d+)\.(\d+)/i.exec(userAgent);
  if (!version) return false;
  const [major, minor] = [Number(version[1]), Number(version[2])];
  return major > 1 || (major === 1 && minor >= 13);
}

/** `text` as `profile-title` carries it: as is when printable ASCII, else `base64:` + its UTF-8. */
export function profileTitle(text: string): string {
  if (/^[\x20-\x7e]*$/.test(text)) return text;
  return `base64:${btoa(String.fromCharCode(...new TextEncoder().encode(text)))}`;
}

/**
 * A `Content-Disposition` for a download named `filename`: an ASCII `filename` for old clients
 * and the exact name as UTF-8 in `filename*` (RFC 6266, RFC 8187).
 *
 * @example contentDisposition("家.yaml") // `attachment; filename="_.yaml"; filename*=UTF-8''%E5%AE%B6.yaml`
 */
export function contentDisposition(filename: string): string {
  const ascii = filename.replace(/[^\x20-\x7e]+/g, "_").replace(/["\\]/g, "_");
  // encodeURIComponent leaves !'()* as they are; RFC 8187's attr-char has no ' ( ) *.
  const exact = encodeURIComponent(filename).replace(
    /['()*]/g,
    (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`,
  );
  return `attachment; filename="${ascii}"; filename*=UTF-8''${exact}`;
}

/** What {@linkcode subscriptionHeaders} needs. */
export interface SubscriptionHeadersInput {
  user: User;
  format: SubscriptionFormat;
  options: SubscriptionOptions;
  /** The profile's name: `options.name`, else the public host. */
  title: string;
  /** The user's page (the subscription URL itself, which a browser gets as a page). */
  pageUrl: string;
}

/**
 * The headers clients read from a subscription answer: usage and expiry, the update interval,
 * the title, the file name, the user's web page, and the support link when one is set.
 *
 * @example subscriptionHeaders({ user, format: "clash", options, title, pageUrl })
 */
export function subscriptionHeaders(input: SubscriptionHeadersInput): Record<string, string> {
  const { user, format, options, title, pageUrl } = input;
  const extension = format === "clash" ? "yaml" : format === "base64" ? "txt" : "json";
  return {
    "subscription-userinfo": subscriptionUserinfo(user),
    "profile-update-interval": String(options.updateHours),
    "profile-title": profileTitle(title),
    "content-disposition": contentDisposition(`${title}.${extension}`),
    "profile-web-page-url": pageUrl,
    ...(options.supportUrl ? { "support-url": options.supportUrl } : {}),
  };
}

/** The entry's name in clients: `NAME@HOST`, as the link's label. */
function tag(entry: SubscriptionEntry): string {
  return `${entry.user}@${entry.endpoint.host}`;
}

/** The Clash profile's proxy group, which `PROXY` of the client rules names. */
const GROUP = "SwiftProxy";

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
    `  - name: ${y(GROUP)}`,
    "    type: select",
    `    proxies: [${y(tag(entry))}, "DIRECT"]`,
  ];
  if (!entry.rules) lines.push("rules:", `  - "MATCH,${GROUP}"`);
  else {
    const { rules, providers } = clashRules(entry.rules, GROUP);
    const names = Object.keys(providers);
    // JSON is YAML: each provider one flow mapping.
    if (names.length) lines.push("rule-providers:");
    for (const name of names) lines.push(`  ${y(name)}: ${JSON.stringify(providers[name])}`);
    lines.push("rules:", ...rules.map((rule) => `  - ${y(rule)}`));
  }
  return lines.join("\n") + "\n";
}

function singbox(entry: SubscriptionEntry): string {
  const { endpoint } = entry;
  const tls: Record<string, unknown> = { enabled: true, server_name: endpoint.sni };
  // A sing-box that pins keys gets the key's hash; any other trusts the pinned leaf alone.
  if (endpoint.pin && entry.publicKeyPin) {
    tls.certificate_public_key_sha256 = [entry.publicKeyPin];
  } else if (endpoint.pin && entry.leafPem) tls.certificate = entry.leafPem.trim().split("\n");
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
    route: entry.rules
      ? { ...singBoxRoute(entry.rules, tag(entry)), final: tag(entry) }
      : { final: tag(entry) },
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
    case "local":
      return {
        body: formatLocalSubscription({
          link: shareLink(entry.user, entry.password, entry.endpoint),
          rules: entry.rules ? portableRules(entry.rules) : null,
        }),
        contentType: "application/json; charset=utf-8",
      };
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
