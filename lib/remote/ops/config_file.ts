/**
 * The remote's `--config` file: the options of `serve` as keys of a JSON or TOML document
 * (`max-conns = 100`, `allow = ["10.0.0.0/8"]`). Each value goes through the same parser as
 * the flag of the same name, and flags given on the command line win over the file.
 */
import type { Command, Option } from "commander";
import { parse as parseToml } from "smol-toml";

/** A config file that cannot be used; the message names the file and, for values, the key. */
export class ConfigError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "ConfigError";
  }
}

/** Keys that are flags of the command line only. */
const NOT_IN_FILE = new Set(["--config", "--help", "--version"]);

/**
 * Reads a config file: JSON when it ends in `.json` or starts with `{`, TOML otherwise.
 *
 * @throws {ConfigError} when the file cannot be read or parsed, or is not a table of keys
 * @example const values = readConfigFile("/etc/swiftproxy/remote.toml");
 */
export function readConfigFile(path: string): Record<string, unknown> {
  let text: string;
  try {
    text = Deno.readTextFileSync(path);
  } catch (error) {
    throw new ConfigError(`cannot read the config file ${path}: ${(error as Error).message}`);
  }
  const json = path.endsWith(".json") || (!path.endsWith(".toml") && text.trimStart()[0] === "{");
  let values: unknown;
  try {
    values = json ? JSON.parse(text) : parseToml(text);
  } catch (error) {
    const kind = json ? "JSON" : "TOML";
    throw new ConfigError(`config file ${path} is not valid ${kind}: ${(error as Error).message}`);
  }
  if (typeof values !== "object" || values === null || Array.isArray(values)) {
    throw new ConfigError(`config file ${path}: expected a table of keys, got ${typeof values}`);
  }
  return values as Record<string, unknown>;
}

function optionFor(command: Command, key: string): Option | undefined {
  const long = `--${key.replaceAll("_", "-")}`;
  if (NOT_IN_FILE.has(long)) return undefined;
  return command.options.find((option) => option.long === long);
}

function knownKeys(command: Command): string {
  return command.options.map((o) => o.long?.slice(2)).filter((k) => k && !NOT_IN_FILE.has(`--${k}`))
    .join(", ");
}

/** Turns one file value into the option's parsed value, as its flag would. */
function parseValue(option: Option, value: unknown): unknown {
  if (option.isBoolean()) {
    if (typeof value !== "boolean") throw new Error(`expected true or false, got ${show(value)}`);
    return option.negate ? !value : value;
  }
  const repeatable = Array.isArray(option.defaultValue);
  const items = repeatable && Array.isArray(value) ? value : [value];
  let parsed: unknown = repeatable ? [] : undefined;
  for (const item of items) {
    if (typeof item !== "string" && typeof item !== "number") {
      const expected = repeatable ? "a string or a list of strings" : "a string or a number";
      throw new Error(`expected ${expected}, got ${show(item)}`);
    }
    const text = String(item);
    if (option.argChoices && !option.argChoices.includes(text)) {
      throw new Error(`expected one of ${option.argChoices.join(", ")}, got ${show(item)}`);
    }
    parsed = option.parseArg ? option.parseArg(text, parsed) : text;
  }
  return parsed;
}

function show(value: unknown): string {
  return Array.isArray(value) ? "a list" : value === null ? "null" : JSON.stringify(value) ?? "?";
}

/**
 * Sets `command`'s options from config `values`, except those given on the command line.
 *
 * @throws {ConfigError} naming the key when it is not an option of `command` or its value is
 *   refused by the option's parser
 * @example applyConfig(serveCommand, readConfigFile(path), path);
 */
export function applyConfig(command: Command, values: Record<string, unknown>, path: string): void {
  for (const [key, value] of Object.entries(values)) {
    const option = optionFor(command, key);
    if (!option) {
      throw new ConfigError(
        `config file ${path}: unknown key "${key}" (known keys: ${knownKeys(command)})`,
      );
    }
    let parsed: unknown;
    try {
      parsed = parseValue(option, value);
    } catch (error) {
      throw new ConfigError(`config file ${path}: key "${key}": ${(error as Error).message}`);
    }
    const name = option.attributeName();
    if (command.getOptionValueSource(name) === "cli") continue;
    command.setOptionValueWithSource(name, parsed, "config");
  }
}
