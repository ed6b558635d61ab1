/**
 * The user settings that the `user` commands and the admin API both take, each with one check
 * and one message: the command line gives text, the API gives JSON, and both come through
 * here, so a value one refuses the other refuses in the same words.
 */
import { parseTypedRate, parseTypedSize } from "../../common/ops/units.ts";
import {
  checkGroupName,
  checkUserName,
  GROUP_NAME_RULE,
  RESET_PERIODS,
  USER_NAME_RULE,
} from "../store/user_store.ts";
import type { UserLimits } from "../store/user_store.ts";

/** The most a user's `max-conns` may say: more than one process can hold. */
export const MAX_CONNS_CEILING = 1_000_000;

/** One setting: its key in {@linkcode UserLimits} and the API's JSON, its option, its check. */
export interface UserField {
  key: keyof UserLimits;
  /** The command line's option, as commander takes it: `--up <rate>`. */
  flags: string;
  description: string;
  /** A good value, shown after a refusal. */
  example: string;
  /**
   * The value of `text` as the command line takes it (`0` for none: unlimited, never).
   *
   * @throws {RangeError} saying what was expected and what came
   */
  parse(text: string): number | string | null;
}

/**
 * `--expires DATE`: the last day of access, `YYYY-MM-DD`, meaning the end of that day in UTC
 * (access ends at 24:00 UTC), or an exact ISO date-time; `never` or `0` clears it (null).
 * Impossible dates (2027-02-31) and offsets (+99:99) are refused, not rolled over.
 *
 * @throws {RangeError} naming what was expected
 * @example parseExpires("2026-12-01") // Date.parse("2026-12-01T23:59:59.999Z")
 */
export function parseExpires(text: string): number | null {
  if (text === "never" || text === "0") return null;
  const expected = "expected a last day such as 2027-01-01 (access ends at 24:00 UTC), a time " +
    'such as 2027-01-01T12:00:00Z, or "never"';
  const match =
    /^(\d{4})-(\d{2})-(\d{2})([T ]([01]\d|2[0-3]):[0-5]\d(:[0-5]\d(\.\d+)?)?(Z|[+-]\d{2}:?\d{2}))?$/
      .exec(text);
  if (!match) throw new RangeError(`${expected}, got "${text}"`);
  const [year, month, day] = [Number(match[1]), Number(match[2]), Number(match[3])];
  // setUTCFullYear, not Date.UTC, which reads years 0 to 99 as 1900 to 1999.
  const date = new Date(0);
  date.setUTCFullYear(year, month - 1, day);
  if (date.getUTCMonth() !== month - 1 || date.getUTCDate() !== day) {
    throw new RangeError(`"${text}" is not a date in the calendar; ${expected}`);
  }
  // A day alone is the last day of access: up to the end of it, in UTC.
  const at = match[4] ? Date.parse(text.replace(" ", "T")) : date.getTime() + 86_400_000 - 1;
  if (!Number.isSafeInteger(at)) throw new RangeError(`"${text}" is not a time; ${expected}`);
  return at;
}

/**
 * `--reset-day N`: 1 to 28 (days every month has), or 0 for no monthly reset.
 *
 * @throws {RangeError} naming what was expected
 */
export function parseResetDay(text: string): number {
  if (!/^\d+$/.test(text) || Number(text) > 28) {
    throw new RangeError(`expected a day from 1 to 28, or 0 for none, got "${text}"`);
  }
  return Number(text);
}

/**
 * `--max-conns N`: 0 (the server's default) to {@linkcode MAX_CONNS_CEILING}.
 *
 * @throws {RangeError} naming what was expected
 */
export function parseMaxConns(text: string): number {
  if (!/^\d+$/.test(text) || Number(text) > MAX_CONNS_CEILING) {
    throw new RangeError(`expected a whole number from 0 to ${MAX_CONNS_CEILING}, got "${text}"`);
  }
  return Number(text);
}

/** The most `--max-ips` may say. */
export const MAX_IPS_CEILING = 10_000;

/**
 * `--max-ips N`: 0 (no limit) to {@linkcode MAX_IPS_CEILING}.
 *
 * @throws {RangeError} naming what was expected
 */
export function parseMaxIps(text: string): number {
  if (!/^\d+$/.test(text) || Number(text) > MAX_IPS_CEILING) {
    throw new RangeError(
      `expected a whole number of addresses from 0 (no limit) to ${MAX_IPS_CEILING}, got "${text}"`,
    );
  }
  return Number(text);
}

const DURATION_UNITS: Record<string, number> = { h: 3600_000, d: 86_400_000, w: 604_800_000 };

/**
 * `--expires-after DURATION`: hours, days or weeks (`12h`, `30d`, `1w`) from the first login,
 * up to 100 years; `0` or `never` clears it (null).
 *
 * @throws {RangeError} naming what was expected
 * @example parseDuration("30d") // 2_592_000_000
 */
export function parseDuration(text: string): number | null {
  if (text === "never" || text === "0") return null;
  const match = /^(\d{1,6})([hdw])$/.exec(text);
  const ms = match ? Number(match[1]) * DURATION_UNITS[match[2]!]! : 0;
  if (!match || ms <= 0 || ms > 100 * 365 * 86_400_000) {
    throw new RangeError(`expected a duration such as 12h, 30d or 1w, or "never", got "${text}"`);
  }
  return ms;
}

/**
 * `--reset PERIOD`: daily, weekly (Mondays), monthly (on `--reset-day`, else the 1st) or yearly
 * (January 1st), at 00:00 UTC; `none` clears it (null).
 *
 * @throws {RangeError} naming what was expected
 */
export function parseResetPeriod(text: string): string | null {
  if (text === "none") return null;
  if (!(RESET_PERIODS as readonly string[]).includes(text)) {
    throw new RangeError(`expected ${RESET_PERIODS.join(", ")} or none, got "${text}"`);
  }
  return text;
}

/**
 * `--group G`: a group name; `none` clears it (null).
 *
 * @throws {RangeError} naming what was expected
 */
export function parseGroup(text: string): string | null {
  if (text === "none") return null;
  try {
    checkGroupName(text);
  } catch {
    throw new RangeError(`expected ${GROUP_NAME_RULE}, or "none", got "${text}"`);
  }
  return text;
}

/** Every setting, in the order the help lists them. */
export const USER_FIELDS: readonly UserField[] = Object.freeze([
  {
    key: "upLimit",
    flags: "--up <rate>",
    description: "upload limit in bytes/s, 0 = unlimited (512KiB, 2MiB, 10Mbit)",
    example: "2MiB",
    parse: parseTypedRate,
  },
  {
    key: "downLimit",
    flags: "--down <rate>",
    description: "download limit in bytes/s, 0 = unlimited",
    example: "2MiB",
    parse: parseTypedRate,
  },
  {
    key: "quota",
    flags: "--quota <size>",
    description: "total traffic allowed, 0 = unlimited (50GiB)",
    example: "50GiB",
    parse: parseTypedSize,
  },
  {
    key: "maxConns",
    flags: "--max-conns <n>",
    description: "open connections allowed, 0 = the server's --user-max-conns",
    example: "16",
    parse: parseMaxConns,
  },
  {
    key: "expiresAt",
    flags: "--expires <date>",
    description:
      'last day of access, through 24:00 UTC (2027-01-01), an exact time (2027-01-01T12:00:00Z), or "never"',
    example: "2027-01-01",
    parse: parseExpires,
  },
  {
    key: "resetDay",
    flags: "--reset-day <day>",
    description: "reset usage to zero each month on this day (1-28, UTC), 0 = never",
    example: "5",
    parse: parseResetDay,
  },
  {
    key: "resetPeriod",
    flags: "--reset <period>",
    description:
      "reset usage to zero daily, weekly (Mondays), monthly (on --reset-day, else the 1st) or yearly (Jan 1), 00:00 UTC; none = never",
    example: "weekly",
    parse: parseResetPeriod,
  },
  {
    key: "maxIps",
    flags: "--max-ips <n>",
    description:
      "distinct client addresses with tunnels open at once, across all nodes (an IPv6 /64 counts as one), 0 = no limit",
    example: "2",
    parse: parseMaxIps,
  },
  {
    key: "expiresAfter",
    flags: "--expires-after <duration>",
    description:
      'on hold until the first login, then access for this long (12h, 30d, 1w); "never" clears it',
    example: "30d",
    parse: parseDuration,
  },
  {
    key: "group",
    flags: "--group <name>",
    description: 'the group the user belongs to ("none" clears it)',
    example: "family",
    parse: parseGroup,
  },
]);

/** A JSON value as a message shows it: short, escaped. */
function shown(value: unknown): string {
  const text = JSON.stringify(value) ?? String(value);
  return text.length > 40 ? `${text.slice(0, 40)}…` : text;
}

/**
 * One field's value from JSON: text as the command line takes it; a number as its digits (so
 * `65536` is 64 KiB/s, and `500` needs a unit as `--up 500` does); null or `""` as `0` (none).
 *
 * @throws {RangeError} for anything else, or what the field's check refuses
 * @example fieldFromJson(USER_FIELDS[0], "2MiB") // 2097152
 */
export function fieldFromJson(field: UserField, value: unknown): number | string | null {
  if (value === null || value === "") return field.parse("0");
  if (typeof value === "string") return field.parse(value);
  if (typeof value === "number" && Number.isFinite(value)) return field.parse(String(value));
  throw new RangeError(
    `expected text such as ${field.example}, or a number, got ${shown(value)}`,
  );
}

/**
 * The settings a JSON object gives (fields left out stay undefined).
 *
 * @throws {RangeError} whose message starts with the field's key: `quota: expected …`
 * @example limitsFromJson({ downLimit: "2MiB", expiresAt: null }) // { downLimit: 2097152, expiresAt: null }
 */
export function limitsFromJson(body: Record<string, unknown>): UserLimits {
  const limits: Record<string, number | string | null> = {};
  for (const field of USER_FIELDS) {
    if (!Object.hasOwn(body, field.key) || body[field.key] === undefined) continue;
    try {
      limits[field.key] = fieldFromJson(field, body[field.key]);
    } catch (error) {
      throw new RangeError(`${field.key}: ${(error as Error).message}`);
    }
  }
  return limits as UserLimits;
}

/**
 * A user name from JSON, checked as the store checks it.
 *
 * @throws {RangeError} for anything but a valid name's text
 */
export function nameFromJson(value: unknown): string {
  if (typeof value !== "string") {
    throw new RangeError(`name: expected ${USER_NAME_RULE}, got ${shown(value)}`);
  }
  try {
    checkUserName(value);
  } catch (error) {
    throw new RangeError(`name: ${(error as Error).message}`);
  }
  return value;
}
