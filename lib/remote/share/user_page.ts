/**
 * The user's page: the subscription URL opened in a browser shows the user's usage against the
 * quota, expiry, the next monthly reset, one-tap import buttons for the apps people use, the
 * URL with its QR code and a copy button, and how to run `swiftproxy-local` on a laptop. The
 * password is not on it: the page fetches the link (`…/base64`) only when the user asks.
 * English or Simplified Chinese (`Accept-Language`, the switch's cookie). Pure functions.
 */
import { formatBytes } from "../../common/ops/units.ts";
import {
  fillPage,
  formatDate,
  formatNumber,
  langChoice,
  pickLang,
  translate,
} from "../../common/web/i18n.ts";
import type { Lang } from "../../common/web/i18n.ts";
import { respond } from "../../common/web/http_replies.ts";
import { nextResetOf } from "../users/reset_period.ts";
import type { User } from "../store/user_store.ts";
import { VERSION } from "../../version.ts";
import { svgQr } from "./share.ts";
import template from "./assets/user_page.html" with { type: "text" };
import style from "./assets/user_page.css" with { type: "text" };
import script from "./assets/user_page.js" with { type: "text" };

/** Apps that fetch subscriptions, by their User-Agent: they get documents, never the page. */
const APP_AGENT =
  /clash|mihomo|stash|sing-?box|\bSF[AIMT]\/|v2ray|hiddify|shadowrocket|quantumult|surge|loon|neko|streisand|v2box|karing|foxray|happ\b|swiftproxy/i;

/**
 * Whether a request for the bare subscription URL comes from a browser: it accepts
 * `text/html` and its User-Agent is no subscription app's.
 *
 * @example wantsPage(new Headers({ accept: "text/html", "user-agent": "Mozilla/5.0 …" })) // true
 */
export function wantsPage(headers: Headers): boolean {
  return /\btext\/html\b/i.test(headers.get("accept") ?? "") &&
    !APP_AGENT.test(headers.get("user-agent") ?? "");
}

/** Base64 of a SHA-256, as a CSP source (`'sha256-…'`) names an inline element. */
async function cspHash(text: string): Promise<string> {
  const digest = await crypto.subtle.digest("SHA-256", new TextEncoder().encode(text));
  return `'sha256-${btoa(String.fromCharCode(...new Uint8Array(digest)))}'`;
}

/** The page's own style and script only (by hash), its fetch of the link, nothing else. */
const CSP = Promise.all([cspHash(style), cspHash(script)]).then(([styleHash, scriptHash]) =>
  `default-src 'none'; style-src ${styleHash}; script-src ${scriptHash}; img-src data:; ` +
  "connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
);

/**
 * The import links for a subscription at `url` named `name`, each in the form its app
 * documents: Clash Meta, Clash Verge and Stash `install-config?url=` (the Clash document),
 * sing-box `import-remote-profile?url=…#name` (its JSON), Hiddify `import/<url>#name`,
 * v2rayNG `install-sub?url=…#name`, Shadowrocket `sub://` and the URL in base64.
 *
 * @example importLinks("https://vpn.example.org/sub/T", "vpn").singbox
 */
export function importLinks(url: string, name: string): Record<string, string> {
  const e = encodeURIComponent;
  return {
    clash: `clash://install-config?url=${e(`${url}/clash`)}&name=${e(name)}`,
    singbox: `sing-box://import-remote-profile?url=${e(`${url}/singbox`)}#${e(name)}`,
    hiddify: `hiddify://import/${url}#${e(name)}`,
    v2rayng: `v2rayng://install-sub?url=${e(url)}#${e(name)}`,
    shadowrocket: `sub://${btoa(url)}#${e(name)}`,
    stash: `stash://install-config?url=${e(`${url}/clash`)}`,
  };
}

/** What the page shows. */
export interface UserPageInput {
  user: User;
  /** The subscription URL (the page's own address, from the public address). */
  url: string;
  /** The server's name (`serve --name`, else the public host). */
  title: string;
  supportUrl?: string;
  /** The self-signed certificate's SHA-256 (hex), which `swiftproxy-local --sub` must pin. */
  pin?: string;
  now?: number;
}

/**
 * The page for `input.user` as HTML in `lang`.
 *
 * @example userPageHtml({ user, url, title: "vpn.example.org" }, "zh-CN")
 */
export function userPageHtml(input: UserPageInput, lang: Lang = "en"): string {
  const { user, url, title, now = Date.now() } = input;
  const size = (bytes: number) => formatBytes(bytes, "0 B", "short", lang);
  const used = user.bytesUp + user.bytesDown;
  const t = (key: string, params: Record<string, string> = {}) =>
    translate(lang, `userpage.${key}`, params);
  const expired = user.expiresAt !== null && user.expiresAt <= now;
  const state = !user.enabled ? "hold" : expired ? "expired" : "active";
  const next = nextResetOf(now, user);
  const values: Record<string, string> = {
    title,
    user: user.name,
    state,
    used: String(user.quota === 0 ? 0 : Math.min(used, user.quota)),
    quota: String(user.quota),
    usedText: user.quota === 0 ? t("usedNoQuota", { used: size(used) }) : t("usedOfQuota", {
      used: size(used),
      quota: size(user.quota),
      percent: formatNumber(lang, Math.min(100, Math.floor((used / user.quota) * 100))),
    }),
    updown: t("upDown", { up: size(user.bytesUp), down: size(user.bytesDown) }),
    expiry: state === "hold"
      ? t("onHold")
      : user.expiresAt === null && user.expiresAfter
      ? t("firstUse")
      : user.expiresAt === null
      ? t("neverExpires")
      : t(expired ? "expired" : "expires", { date: formatDate(lang, user.expiresAt) }),
    reset: next === null ? t("noReset") : t("resets", { date: formatDate(lang, next) }),
    url,
    // The pin rides in the fragment, which no client sends to the server.
    localCommand: `swiftproxy-local --sub '${url}${input.pin ? `#pcs=${input.pin}` : ""}'`,
    ...importLinks(url, title),
    hasSupport: input.supportUrl ? "yes" : "no",
    supportUrl: input.supportUrl ?? "",
    version: VERSION,
  };
  // The QR code, the style and the script go in as they are (none comes from the request).
  return fillPage(template, lang, values)
    .replace("<!--qr-->", () => svgQr(url))
    .replace("<style></style>", () => `<style>${style}</style>`)
    .replace("<script></script>", () => `<script>${script}</script>`);
}

/**
 * The answer to a browser at the subscription URL (`path`, with its query): the language
 * switch (`?lang=`) is a 303 back to `path` with the cookie; anything else the page, in the
 * language `headers` ask for, with the security headers and a CSP that allows only the page's
 * own inline style and script (by hash).
 *
 * @example const response = await userPageAnswer("/sub/T", headers, input);
 */
export async function userPageAnswer(
  pathAndQuery: string,
  headers: Headers,
  input: UserPageInput,
): Promise<Response> {
  const where = new URL(pathAndQuery, "https://page.invalid");
  const choice = langChoice(where);
  if (choice) {
    return new Response(null, {
      status: 303,
      headers: { location: where.pathname, "set-cookie": choice.cookie },
    });
  }
  return respond(200, userPageHtml(input, pickLang(headers)), "text/html; charset=utf-8", {
    "content-security-policy": await CSP,
    "content-language": pickLang(headers),
  });
}
