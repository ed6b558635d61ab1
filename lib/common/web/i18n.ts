/**
 * The pages' languages: one catalogue per language (`i18n/<lang>.json`, flat keys prefixed by
 * the page, `dashboard.…`, `admin.…`, `welcome.…`), the language a request asks for (a
 * remembered choice first, then `Accept-Language`), and a page template filled on the server:
 * `{{t:key}}` becomes the key's text, `{{name}}` a value, both HTML-escaped, and `{{i18n}}`
 * the language and its strings for the page's script (`i18n.js`, served beside it). A switch
 * of plain links (`?lang=zh-CN`) sets a cookie that the next requests are answered by.
 *
 * Another language is one more catalogue file here and one line in {@linkcode CATALOGUES}.
 */
import en from "./i18n/en.json" with { type: "json" };
import zhCN from "./i18n/zh-CN.json" with { type: "json" };
import { cookieValues, setCookie } from "./cookies.ts";

/** A language the pages speak. */
export type Lang = "en" | "zh-CN";

/** Every catalogue, by language; the first is the fallback for a key another one lacks. */
export const CATALOGUES: Readonly<Record<Lang, Readonly<Record<string, string>>>> = {
  en,
  "zh-CN": zhCN,
};

/** The languages, in the order the switch lists them. */
export const LANGS = Object.keys(CATALOGUES) as Lang[];

/**
 * The text of `key` in `lang`, with each `{name}` replaced by `params[name]`.
 *
 * @throws {Error} when no catalogue has `key` (a typo in a page, caught by its tests)
 * @example translate("en", "dashboard.session.online", { user: "alice" })
 */
export function translate(
  lang: Lang,
  key: string,
  params: Record<string, string | number> = {},
): string {
  const text = CATALOGUES[lang][key] ?? CATALOGUES.en[key];
  if (text === undefined) throw new Error(`no text for "${key}" in any catalogue`);
  return text.replace(/\{(\w+)\}/g, (whole, name: string) => String(params[name] ?? whole));
}

/**
 * Fills a page template for `lang`: `{{t:key}}` with the key's text (its `{name}`s taken from
 * `values`), `{{name}}` with
 * `values[name]` (both HTML-escaped), `{{lang}}` with the language, `{{langs}}` with the
 * language switch, and `{{i18n}}` with the JSON of the language and the keys starting with one
 * of `prefixes`, escaped for an attribute (`<html data-i18n="{{i18n}}">`, read by `i18n.js`).
 *
 * @throws {Error} for a placeholder with no value or no text
 * @example fillPage("<b>{{t:dashboard.stopped}}</b> {{pid}}", "en", { pid: "42" }, [])
 */
export function fillPage(
  template: string,
  lang: Lang,
  values: Record<string, string>,
  prefixes: readonly string[] = [],
): string {
  // `deno fmt` writes `{{t:key}}` in text as `{{ t: key }}`: both are read.
  return template.replace(/\{\{\s*(t\s*:\s*)?([\w.-]+)\s*\}\}/g, (_, t, name: string) => {
    if (t) return escapeHtml(translate(lang, name, values));
    if (name === "lang") return lang;
    if (name === "i18n") return escapeHtml(JSON.stringify(pageStrings(lang, prefixes)));
    if (name === "langs") return langSwitch(lang);
    const value = values[name];
    if (value === undefined) throw new Error(`no value for {{${name}}} in the page`);
    return escapeHtml(value);
  });
}

/** The language and the strings of `prefixes` (with the language switch's), as the script reads them. */
function pageStrings(lang: Lang, prefixes: readonly string[]) {
  const strings: Record<string, string> = {};
  for (const [key, text] of Object.entries(CATALOGUES.en)) {
    if (prefixes.some((p) => key.startsWith(p))) strings[key] = CATALOGUES[lang][key] ?? text;
  }
  return { lang, strings };
}

/**
 * The language switch: a link per language, each named in its own language, that sets the
 * remembered choice (see {@linkcode langChoice}); plain links, so it works without script.
 */
function langSwitch(current: Lang): string {
  return LANGS.map((lang) =>
    `<a href="?lang=${lang}" lang="${lang}" hreflang="${lang}"${
      lang === current ? ' aria-current="true"' : ""
    }>${escapeHtml(CATALOGUES[lang]["language.name"] ?? lang)}</a>`
  ).join(" ");
}

/**
 * A count written the way of `lang` (digit grouping).
 *
 * @example formatNumber("en", 12345) // "12,345"
 */
export function formatNumber(lang: Lang, n: number): string {
  return new Intl.NumberFormat(lang).format(n);
}

/**
 * A moment written the way of `lang`, in UTC (a server does not know the reader's time zone).
 *
 * @example formatDate("zh-CN", Date.UTC(2026, 0, 2, 3, 4)) // "2026年1月2日 03:04 UTC"
 */
export function formatDate(lang: Lang, at: number): string {
  return new Intl.DateTimeFormat(lang, {
    dateStyle: "medium",
    timeStyle: "short",
    timeZone: "UTC",
  }).format(at) + " UTC";
}

/** Text safe inside an element or a quoted attribute. */
export function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

/** The cookie that remembers the language chosen with the switch. */
export const LANG_COOKIE = "swiftproxy_lang";

/** `text` as one of {@linkcode LANGS}, matched without case (`zh-cn`), or null. */
function known(text: string): Lang | null {
  return LANGS.find((lang) => lang.toLowerCase() === text.trim().toLowerCase()) ?? null;
}

/**
 * The language for a request: the one remembered in {@linkcode LANG_COOKIE}, else the first
 * of `Accept-Language` (by weight) the pages speak, where any Chinese but the traditional
 * scripts (`zh`, `zh-Hans`, `zh-SG`) counts as `zh-CN` and `en-GB` as `en`; else English.
 *
 * @example pickLang(new Headers({ "accept-language": "zh-CN,zh;q=0.9,en;q=0.8" })) // "zh-CN"
 */
export function pickLang(headers: Headers): Lang {
  for (const value of cookieValues(headers, LANG_COOKIE)) {
    const chosen = known(value);
    if (chosen) return chosen;
  }
  const wanted = (headers.get("accept-language") ?? "").split(",").map((item, order) => {
    const [tag = "", ...params] = item.trim().split(";");
    const q = params.map((p) => p.trim()).find((p) => p.startsWith("q="));
    return { tag: tag.trim().toLowerCase(), weight: q ? Number(q.slice(2)) : 1, order };
  }).filter((w) => w.tag && w.weight > 0)
    .sort((a, b) => b.weight - a.weight || a.order - b.order);
  for (const { tag } of wanted) {
    const exact = known(tag);
    if (exact) return exact;
    const [base, region] = tag.split("-");
    if (base === "zh" && !/^(hant|tw|hk|mo)$/.test(region ?? "")) {
      const chinese = known("zh-CN");
      if (chinese) return chinese;
    }
    const family = LANGS.find((lang) => lang.split("-")[0]!.toLowerCase() === base);
    if (family) return family;
  }
  return LANGS[0]!;
}

/**
 * The language the switch asked for (`?lang=` of `url`), with the `Set-Cookie` value that
 * remembers it for a year; null when `url` asks for none the pages speak.
 *
 * @example langChoice(new URL("http://127.0.0.1:9090/?lang=en"))?.cookie
 */
export function langChoice(url: URL): { lang: Lang; cookie: string } | null {
  const lang = known(url.searchParams.get("lang") ?? "");
  if (!lang) return null;
  return { lang, cookie: setCookie(LANG_COOKIE, lang, { maxAgeS: 31536000, sameSite: "Lax" }) };
}
