// @ts-check
/**
 * The one byte formatter. Plain JavaScript (type-checked through JSDoc) so that the dashboard
 * page runs this very file, served as `/format_bytes.js`; Deno code imports it through
 * `units.ts`.
 */

const UNITS = ["B", "KiB", "MiB", "GiB", "TiB", "PiB"];

/**
 * Formats bytes with a binary unit, or `zero` for 0 (`unlimited`, say). The `short` style trims
 * trailing zeros (`1.5 KiB`, `10 KiB`); `steady` keeps three significant figures (`1.50 KiB`,
 * `10.0 KiB`, `150 KiB`), so a number that changes every second on a page keeps its width.
 *
 * @param {number} bytes
 * @param {string} [zero] the text for 0
 * @param {"short" | "steady"} [style]
 * @param {string} [locale] writes the number the language's way (`Intl`); none: as JavaScript does
 * @returns {string}
 * @example formatBytes(1536) // "1.5 KiB"
 * @example formatBytes(1536, "0 B", "steady") // "1.50 KiB"
 */
export function formatBytes(bytes, zero = "0 B", style = "short", locale = undefined) {
  if (bytes === 0) return zero;
  let value = bytes;
  let unit = 0;
  while (value >= 1024 && unit < UNITS.length - 1) {
    value /= 1024;
    unit++;
  }
  let text;
  if (style === "steady") {
    text = unit === 0
      ? String(Math.round(value))
      : value.toFixed(value < 10 ? 2 : value < 100 ? 1 : 0);
  } else {
    text = unit === 0 ? String(value) : value.toFixed(value < 10 ? 2 : 1).replace(/\.?0+$/, "");
  }
  if (locale) text = localNumber(Number(text), (text.split(".")[1] ?? "").length, locale);
  return `${text} ${UNITS[unit]}`;
}

/** @type {Map<string, Intl.NumberFormat>} */
const FORMATS = new Map();

/**
 * `value` with `decimals` decimals, written the way of `locale`.
 *
 * @param {number} value
 * @param {number} decimals
 * @param {string} locale
 */
function localNumber(value, decimals, locale) {
  const key = `${locale} ${decimals}`;
  let format = FORMATS.get(key);
  if (!format) {
    format = new Intl.NumberFormat(locale, {
      minimumFractionDigits: decimals,
      maximumFractionDigits: decimals,
      useGrouping: false,
    });
    FORMATS.set(key, format);
  }
  return format.format(value);
}
