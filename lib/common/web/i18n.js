// @ts-check
/**
 * The pages' language in the browser: the strings the server put in the page
 * (`<html data-i18n="…">`, see `i18n.ts`), `t(key, params)` to read
 * them, and numbers, sizes and dates formatted for the page's language with `Intl`.
 * Served to each page as `/i18n.js`, beside `/format_bytes.js`.
 */
import { formatBytes } from "./format_bytes.js";

const given = document.documentElement.dataset.i18n;
/** @type {{ lang: string, strings: Record<string, string> }} */
const data = given ? JSON.parse(given) : { lang: "en", strings: {} };

/** The page's language, e.g. `en` or `zh-CN`. */
export const lang = data.lang;

/**
 * The text of `key`, with each `{name}` replaced by `params[name]` (the key itself when the
 * page has no such string, so a missing one shows up in tests rather than as a blank).
 *
 * @param {string} key
 * @param {Record<string, string | number>} [params]
 * @returns {string}
 */
export function t(key, params = {}) {
  const text = data.strings[key] ?? key;
  return text.replace(/\{(\w+)\}/g, (whole, name) => String(params[name] ?? whole));
}

const numbers = new Intl.NumberFormat(lang);
const dates = new Intl.DateTimeFormat(lang, { dateStyle: "medium", timeStyle: "short" });

/** A count, with the language's digit grouping. @param {number} n */
export const number = (n) => numbers.format(n);

/** A moment (milliseconds or a date), in the language's way. @param {number | Date} at */
export const date = (at) => dates.format(at);

const days = new Intl.DateTimeFormat(lang, { dateStyle: "medium", timeZone: "UTC" });

/**
 * A calendar day (milliseconds), in the language's way, in UTC: the server's days (expiry,
 * resets) end at 24:00 UTC whatever the reader's time zone.
 *
 * @param {number | Date} at
 */
export const day = (at) => days.format(at);

/**
 * Bytes with a binary unit, the number written the language's way.
 *
 * @param {number} n
 * @param {string} [zero]
 * @param {"short" | "steady"} [style]
 */
export const size = (n, zero = "0 B", style = "short") => formatBytes(n, zero, style, lang);
