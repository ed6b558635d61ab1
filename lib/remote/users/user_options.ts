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
  return (text: string): number | typeof NEVER => {
    try {
      return field.parse(text) ?? NEVER;
    } catch (error) {
      throw new InvalidArgumentError(`${(error as Error).message} (example: ${field.example})`);
    }
  };
}

/** Adds `--up`, `--down`, `--quota`, `--max-conns`, `--expires` and `--reset-day`. */
export function addLimitOptions(command: Command): Command {
  for (const field of USER_FIELDS) {
    command.option(field.flags, field.description, optionParser(field));
  }
  return command;
}

/** The limits given by the options of {@linkcode addLimitOptions}; absent ones undefined. */
export function limitsFrom(options: Record<string, unknown>): UserLimits {
  const limits: Record<string, number | null> = {};
  for (const field of USER_FIELDS) {
    const value = options[new Option(field.flags).attributeName()];
    if (value !== undefined) limits[field.key] = value === NEVER ? null : value as number;
  }
  return limits as UserLimits;
}
