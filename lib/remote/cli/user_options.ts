/** Arguments and options of the `user` subcommands: a user name and the limit flags. */
import { Command, InvalidArgumentError } from "commander";
import { integerArg, rateArg, sizeArg } from "../../common/cli.ts";
import { checkUserName } from "../user_store.ts";
import type { UserLimits } from "../user_store.ts";

/**
 * `--expires DATE`: an ISO date or date-time; `never` clears it. (Not `null` for never:
 * commander turns a parser's `null` into `true`.)
 */
export const expiresArg = (text: string): number | "never" => {
  if (text === "never" || text === "0") return "never";
  const time = /^\d{4}-\d{2}-\d{2}([T ][\d:.]+(Z|[+-]\d{2}:?\d{2})?)?$/.test(text)
    ? Date.parse(text)
    : NaN;
  if (Number.isNaN(time)) {
    throw new InvalidArgumentError(
      `expected a date such as 2027-01-01 or 2027-01-01T12:00:00Z, or "never", got "${text}"`,
    );
  }
  return time;
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
    .option("--max-conns <n>", "open connections allowed, 0 = unlimited", integerArg(0, "16"))
    .option("--expires <date>", 'last day of access (2027-01-01), or "never"', expiresArg);
}

/** The limits given by the options of {@linkcode addLimitOptions}; absent ones undefined. */
export function limitsFrom(options: Record<string, unknown>): UserLimits {
  return {
    upLimit: options.up as number | undefined,
    downLimit: options.down as number | undefined,
    quota: options.quota as number | undefined,
    maxConns: options.maxConns as number | undefined,
    expiresAt: options.expires === "never" ? null : options.expires as number | undefined,
  };
}
