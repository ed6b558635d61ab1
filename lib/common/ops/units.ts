/** Parsing and formatting of byte sizes and rates (`512KiB`, `2MiB`, `1.5MB`, `10Mbit`). */

const BYTE_UNITS: Record<string, number> = {
  "": 1,
  b: 1,
  k: 1e3,
  kb: 1e3,
  m: 1e6,
  mb: 1e6,
  g: 1e9,
  gb: 1e9,
  t: 1e12,
  tb: 1e12,
  kib: 2 ** 10,
  mib: 2 ** 20,
  gib: 2 ** 30,
  tib: 2 ** 40,
  p: 1e15,
  pb: 1e15,
  pib: 2 ** 50,
};

const BIT_UNITS: Record<string, number> = {
  bit: 1 / 8,
  kbit: 1e3 / 8,
  mbit: 1e6 / 8,
  gbit: 1e9 / 8,
};

const NUMBER = /^(\d+(?:\.\d+)?)\s*([a-z]*)$/i;

/**
 * Parses a size in bytes: `50GiB`, `1.5MB`, `1024`, `0` (unlimited).
 *
 * @throws {RangeError} naming what was expected, e.g. for `5 parsecs`
 * @example parseSize("2MiB") // 2097152
 */
export function parseSize(text: string): number {
  const match = NUMBER.exec(text.trim());
  const factor = match ? factorOf(BYTE_UNITS, match[2]!) : undefined;
  if (!match || factor === undefined) {
    throw new RangeError(`expected a size such as 50GiB, 500MB or 0, got "${text}"`);
  }
  return checked(Number(match[1]) * factor, text);
}

/**
 * Parses a rate in bytes per second: `512KiB`, `2MiB/s`, `10Mbit`, `0` (unlimited).
 *
 * @throws {RangeError} naming what was expected
 * @example parseRate("10Mbit") // 1250000
 */
export function parseRate(text: string): number {
  const trimmed = text.trim().replace(/\/s$/i, "").replace(/bps$/i, "bit");
  const match = NUMBER.exec(trimmed);
  const unit = match?.[2] ?? "";
  const factor = factorOf(BYTE_UNITS, unit) ?? factorOf(BIT_UNITS, unit);
  if (!match || factor === undefined) {
    throw new RangeError(`expected a rate such as 512KiB, 2MiB, 1.5MB, 10Mbit or 0, got "${text}"`);
  }
  return checked(Number(match[1]) * factor, text);
}

/**
 * The least a number without a unit may say, 0 (unlimited) aside. Below it, a bare number is
 * almost always a unit left out: `--up 0.5` meant 0.5 MiB/s, not half a byte.
 */
export const BARE_MINIMUM = 1024;

/**
 * {@linkcode parseRate} for a value a person typed (`--up`, `--down`): a non-zero number
 * without a unit below {@linkcode BARE_MINIMUM} is refused; `500B`, `1024` and `0` pass.
 *
 * @throws {RangeError} for such a number, with examples, and for whatever `parseRate` refuses
 * @example parseTypedRate("0.5") // throws: "0.5" has no unit, …; give one, such as 0.5MiB or 512KiB…
 */
export function parseTypedRate(text: string): number {
  return parseRate(withUnitIfSmall(text.trim().replace(/\/s$/i, "")));
}

/**
 * {@linkcode parseSize} for a value a person typed (`--quota`), with the same rule as
 * {@linkcode parseTypedRate}.
 *
 * @throws {RangeError} for a small number without a unit, and for whatever `parseSize` refuses
 * @example parseTypedSize("50GiB") // 53687091200
 */
export function parseTypedSize(text: string): number {
  return parseSize(withUnitIfSmall(text.trim()));
}

function withUnitIfSmall(text: string): string {
  const bare = /^\d+(?:\.\d+)?$/.test(text) ? Number(text) : null;
  if (bare !== null && bare !== 0 && bare < BARE_MINIMUM) {
    throw new RangeError(
      `"${text}" has no unit, so it would mean ${text} bytes; give one, such as 0.5MiB or 512KiB (B for bytes: 500B)`,
    );
  }
  return text;
}

/** The factor of `unit` (any case) in `table`; not a name every object has (`constructor`). */
function factorOf(table: Record<string, number>, unit: string): number | undefined {
  const key = unit.toLowerCase();
  return Object.hasOwn(table, key) ? table[key] : undefined;
}

function checked(value: number, text: string): number {
  const rounded = Math.round(value);
  if (rounded === 0 && value !== 0) {
    throw new RangeError(
      `"${text}" rounds to 0 bytes, which means unlimited; give 0 or at least 1 byte`,
    );
  }
  if (!Number.isSafeInteger(rounded)) throw new RangeError(`"${text}" is too large`);
  return rounded;
}

/** Formats bytes with a binary unit: the one formatter, shared with the dashboard page. */
export { formatBytes } from "./format_bytes.js";
