/** Pieces shared by both programs' command lines: option parsers, log options, exit codes. */
import { Command, CommanderError, InvalidArgumentError, Option } from "commander";
import { formatHostPort, parseHostPort } from "../../protocol/address.ts";
import type { Destination } from "../../protocol/address.ts";
import { parseTypedRate, parseTypedSize } from "./units.ts";
import { LOG_LEVELS } from "./logging.ts";
import { printable } from "./printable.ts";
import type { LogOptions } from "./logging.ts";
import { VERSION } from "../../version.ts";
import { dirname } from "node:path";
import { fileURLToPath } from "node:url";

/** Exit code for bad command-line values, as BSD's EX_USAGE-style tools and commander use. */
export const EXIT_USAGE = 2;

/**
 * An option parser from `parse`, whose error (any thrown) names the option and `example`.
 *
 * @example program.option("--node <name>", "…", parser(checkNodeName, "eu-1"));
 */
export function parser<T>(parse: (text: string) => T, example: string) {
  return (text: string): T => {
    try {
      return parse(text);
    } catch (error) {
      throw new InvalidArgumentError(`${(error as Error).message} (example: ${example})`);
    }
  };
}

/**
 * A parser for `host:port`, `[v6]:port` or `:port` whose errors suggest `example`.
 *
 * @example program.option("--listen <host:port>", "…", hostPortArgLike("0.0.0.0:8443"));
 */
export function hostPortArgLike(example: string) {
  return parser((t) => parseHostPort(t, "0.0.0.0"), example);
}

/** `host:port`, `[v6]:port` or `:port` (errors suggest the local's `127.0.0.1:1080`). */
export const hostPortArg = hostPortArgLike("127.0.0.1:1080");
/** A rate in bytes per second; a bare number below 1 KiB needs its unit (`500B`). */
export const rateArg = parser(parseTypedRate, "2MiB");
/** A size in bytes; a bare number below 1 KiB needs its unit (`500B`). */
export const sizeArg = parser(parseTypedSize, "50GiB");

/** A whole number from `min` up. */
export function integerArg(min: number, example: string) {
  return parser((text) => {
    if (!/^\d+$/.test(text) || Number(text) < min) {
      throw new RangeError(`expected a whole number from ${min}, got "${text}"`);
    }
    return Number(text);
  }, example);
}

/** A duration in seconds (fractions allowed), returned in milliseconds. */
export const secondsArg = parser((text) => {
  if (!/^\d+(\.\d+)?s?$/.test(text)) throw new RangeError(`expected seconds, got "${text}"`);
  return Math.round(parseFloat(text) * 1000);
}, "10");

/** Adds `--log-level`, `--log-format`, `--log-file` and `--exc`. */
export function addLogOptions(command: Command): Command {
  return command
    .addOption(
      new Option("--log-level <level>", "lowest level logged").choices(LOG_LEVELS).default("info"),
    )
    .addOption(
      new Option("--log-format <format>", "log line format").choices(["text", "json"]).default(
        "text",
      ),
    )
    .option("--log-file <file>", "append logs to this file instead of stderr")
    .option("--exc", "include stack traces in logged errors", false);
}

/** The log options out of parsed command options. */
export function logOptions(given: object): LogOptions {
  // Commander sets the log options on every command's options; their types do not name them.
  const options = given as Record<string, unknown>;
  return {
    level: options.logLevel as string,
    format: options.logFormat as "text" | "json",
    file: options.logFile as string | undefined,
    exc: options.exc as boolean,
  };
}

/** A new program with `--version`, errors on stderr, and exit code 2 for usage errors. */
export function program(name: string, description: string): Command {
  return new Command(name)
    .description(description)
    .version(VERSION, "-V, --version")
    .exitOverride();
}

/**
 * Parses `args` and runs the chosen action; usage errors exit with code 2,
 * `--help` and `--version` with 0.
 */
export async function run(command: Command, args: string[]): Promise<void> {
  fromTypedDirectory();
  const all = (c: Command): Command[] => [c, ...c.commands.flatMap(all)];
  for (const c of all(command)) {
    c.exitOverride().showHelpAfterError(`(see "${commandPath(c)} --help" for the options)`)
      .configureOutput({ outputError: (text, write) => write(plainWords(text)) });
    describeDefaults(c);
  }
  try {
    await command.parseAsync(args, { from: "user" });
  } catch (error) {
    if (error instanceof CommanderError) {
      const ok = error.exitCode === 0 ||
        ["commander.helpDisplayed", "commander.version", "commander.help"].includes(error.code);
      Deno.exit(ok ? 0 : EXIT_USAGE);
    }
    throw error;
  }
}

/**
 * Under `deno task`, which runs the program in the project's folder, moves back to the folder
 * the command was typed in (`deno task` keeps it in `INIT_CWD`), so relative paths in the
 * arguments (`--data ./swiftproxy-data`, `--config`, `--log-file`) mean what the user meant.
 * Only when the program runs in its own folder, as `deno task` starts it: a compiled binary,
 * or a program started elsewhere with `INIT_CWD` left in its environment, stays where it is.
 */
function fromTypedDirectory(): void {
  const typed = Deno.env.get("INIT_CWD");
  if (!typed || !Deno.mainModule.startsWith("file:")) return;
  try {
    if (Deno.cwd() !== dirname(fileURLToPath(Deno.mainModule))) return;
    if (Deno.statSync(typed).isDirectory) Deno.chdir(typed);
  } catch {
    // no such folder, or no permission to read it: stay in the project's folder
  }
}

/** `swiftproxy-remote user add`: the words a user types to reach `command`. */
function commandPath(command: Command): string {
  const names: string[] = [];
  for (let c: Command | null = command; c; c = c.parent) names.unshift(c.name());
  return names.join(" ");
}

/**
 * Commander's messages in the words of the docs: "command-argument value 'x' is invalid for
 * argument 'name'. …" becomes `invalid <name> "x": …` (`x` escaped as the logs do), and
 * "option '--up <rate>' argument 'x' is invalid. …" becomes `--up: …` (the parsers' messages
 * already say what came). A value with a newline or an escape is not printed raw.
 */
function plainWords(text: string): string {
  return text.replace(
    /command-argument value '([\s\S]*?)' is invalid for argument '(.*?)'\. /,
    (_, value: string, name: string) => `invalid <${name}> "${printable(value)}": `,
  ).replace(/option '(-[^ ',]+)[^']*' argument '[\s\S]*?' is invalid\. /, "$1: ");
}

/**
 * Shows defaults in `--help` as they are typed: seconds rather than the milliseconds they are
 * kept in, and `host:port` rather than an object.
 */
function describeDefaults(command: Command): void {
  for (const option of command.options) {
    const value: unknown = option.defaultValue;
    if (option.defaultValueDescription !== undefined || value === undefined) continue;
    if (option.flags.includes("<seconds>") && typeof value === "number") {
      option.defaultValueDescription = String(value / 1000);
    } else if (option.flags.includes("<host:port>") && typeof value === "object" && value) {
      option.defaultValueDescription = formatHostPort(value as Destination);
    }
  }
}

/** Prints a usage error naming the option and exits with code 2 (nothing has been written). */
export function usageError(message: string): never {
  console.error(`error: ${message}`);
  Deno.exit(EXIT_USAGE);
}

export type { Destination };
