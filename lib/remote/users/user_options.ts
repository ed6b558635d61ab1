/** Arguments and options of the `user` subcommands: a user name and the limit flags. */
import { Command, InvalidArgumentError, Option } from "commander";
import { checkUserName } from "../store/user_store.ts";
import type { UserLimits } from "../store/user_store.ts";
import { USER_FIELDS } from "./user_fields.ts";
import type { UserField } from "./user_fields.ts";

/** The `<name>` argument, checked as the store would. */
export const nameArg = (text: string): string => {
  try {
    checkUserName(text);
    return text;
  } catch (error) {
    throw new InvalidArgumentError((error as Error).message);
  }
};

/** Commander turns a parser's `null` into `true`: "never" stands for it between the two. */
const NEVER = "never";

/** A field's parser as commander takes it: its refusal with the field's example. */
function optionParser(field: UserField) {
  return (text: string): number | string => {
    try {
      return field.parse(text) ?? NEVER;
    } catch (error) {
      throw new InvalidArgumentError(`${(error as Error).message} (example: ${field.example})`);
    }
  };
}

/** Adds every option of `USER_FIELDS`: `--up`, `--down`, `--quota`, `--max-conns`, `--expires`, …. */
export function addLimitOptions(command: Command): Command {
  for (const field of USER_FIELDS) {
    command.option(field.flags, field.description, optionParser(field));
  }
  return command;
}

/** The limits given by the options of {@linkcode addLimitOptions}; absent ones undefined. */
export function limitsFrom(options: Record<string, unknown>): UserLimits {
  const limits: Record<string, number | string | null> = {};
  for (const field of USER_FIELDS) {
    const value = options[new Option(field.flags).attributeName()];
    if (value !== undefined) limits[field.key] = value === NEVER ? null : value as number | string;
  }
  return limits as UserLimits;
}

/** `limits` over `base` (a template's): the settings `limits` leaves undefined come from `base`. */
export function overTemplate(base: UserLimits, limits: UserLimits): UserLimits {
  const given = Object.entries(limits).filter(([, v]) => v !== undefined);
  return { ...base, ...Object.fromEntries(given) };
}

/** The most accounts `user add --count` makes at once. */
export const MAX_BATCH = 1000;

/**
 * `count` new names `PREFIX1`, `PREFIX2`, … skipping those in `taken` (compared without case).
 *
 * @example batchNames("guest-", 2, ["guest-1"]) // ["guest-2", "guest-3"]
 */
export function batchNames(prefix: string, count: number, taken: Iterable<string>): string[] {
  const used = new Set([...taken].map((n) => n.toLowerCase()));
  const names: string[] = [];
  for (let i = 1; names.length < count; i++) {
    const name = `${prefix}${i}`;
    if (!used.has(name.toLowerCase())) names.push(name);
  }
  names.forEach(checkUserName);
  return names;
}
