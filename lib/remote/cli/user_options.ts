/** Arguments and options of the `user` subcommands: a user name and the limit flags. */
import { Command, InvalidArgumentError } from "commander";
import { integerArg, rateArg, sizeArg } from "../../common/cli.ts";
import { checkUserName } from "../user_store.ts";
import type { UserLimits } from "../user_store.ts";

/**
 * `--expires DATE`: the last day of access, `YYYY-MM-DD`, meaning the end of that day in UTC
 * (access ends at 24:00 UTC), or an exact ISO date-time; `never` clears it. Impossible dates
 * (2027-02-31) are refused, not rolled over. (Not `null` for never: commander turns a parser's
 * `null` into `true`.)
 *
 * @example expiresArg("2026-12-01") // Date.parse("2026-12-01T23:59:59.999Z")
 */
export const expiresArg = (text: string): number | "never" => {
  if (text === "never" || text === "0") return "never";
  const expected = "expected a last day such as 2027-01-01 (access ends at 24:00 UTC), a time " +
    'such as 2027-01-01T12:00:00Z, or "never"';
  const match =
    /^(\d{4})-(\d{2})-(\d{2})([T ]([01]\d|2[0-3]):[0-5]\d(:[0-5]\d(\.\d+)?)?(Z|[+-]\d{2}:?\d{2}))?$/
      .exec(text);
  if (!match) throw new InvalidArgumentError(`${expected}, got "${text}"`);
  const [year, month, day] = [Number(match[1]), Number(match[2]), Number(match[3])];
  const date = new Date(Date.UTC(year, month - 1, day));
  if (date.getUTCMonth() !== month - 1 || date.getUTCDate() !== day) {
    throw new InvalidArgumentError(`"${text}" is not a date in the calendar; ${expected}`);
  }
  // A day alone is the last day of access: up to the end of it, in UTC.
  return match[4] ? Date.parse(text.replace(" ", "T")) : Date.UTC(year, month - 1, day + 1) - 1;
};

/** `--reset-day N`: 1 to 28 (days every month has), or 0 for no monthly reset. */
export const resetDayArg = (text: string): number => {
  if (!/^\d+$/.test(text) || Number(text) > 28) {
    throw new InvalidArgumentError(`expected a day from 1 to 28, or 0 for none, got "${text}"`);
  }
  return Number(text);
};

/** The `<name>` argument, checked as the store would. */
export const nameArg = (text: string): string => {
  try {
    checkUserName(text);
    return text;
  } catch (error) {
    throw new InvalidArgumentError((error as Error).message);
  }
};

/** Adds `--up`, `--down`, `--quota`, `--max-conns` and `--expires`. */
export function addLimitOptions(command: Command): Command {
  return command
    .option("--up <rate>", "upload limit in bytes/s, 0 = unlimited (512KiB, 2MiB, 10Mbit)", rateArg)
    .option("--down <rate>", "download limit in bytes/s, 0 = unlimited", rateArg)
    .option("--quota <size>", "total traffic allowed, 0 = unlimited (50GiB)", sizeArg)
    .option(
      "--max-conns <n>",
      "open connections allowed, 0 = the server's --user-max-conns",
      integerArg(0, "16"),
    )
    .option(
      "--expires <date>",
      'last day of access, through 24:00 UTC (2027-01-01), an exact time (2027-01-01T12:00:00Z), or "never"',
      expiresArg,
    )
    .option(
      "--reset-day <day>",
      "reset usage to zero each month on this day (1-28, UTC), 0 = never",
      resetDayArg,
    );
}

/** The limits given by the options of {@linkcode addLimitOptions}; absent ones undefined. */
export function limitsFrom(options: Record<string, unknown>): UserLimits {
  return {
    upLimit: options.up as number | undefined,
    downLimit: options.down as number | undefined,
    quota: options.quota as number | undefined,
    maxConns: options.maxConns as number | undefined,
    expiresAt: options.expires === "never" ? null : options.expires as number | undefined,
    resetDay: options.resetDay as number | undefined,
  };
}
