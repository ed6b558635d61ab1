/** The options every `swiftproxy-remote` subcommand takes: `--data DIR` and `--db URL`. */
import { Option } from "commander";
import type { Command } from "commander";
import { defaultDataDir } from "../store/data_dir.ts";
import type { StoreLocation } from "../store/store_url.ts";
import type { UserStore } from "../store/user_store.ts";
import { audited, CLI_ACTOR } from "../users/audit.ts";

/**
 * `--data <dir>`, defaulting to `$STATE_DIRECTORY` or `./swiftproxy-data`.
 *
 * @example command.addOption(dataOption());
 */
export function dataOption(): Option {
  return new Option("--data <dir>", "data directory (users.db, tls/)").default(
    defaultDataDir(),
    "$STATE_DIRECTORY or ./swiftproxy-data",
  );
}

/**
 * `--db <url>`: `postgres://…` for a database shared by many nodes; also read from
 * `$SWIFTPROXY_DB` (see store_url.ts), which keeps a password out of `ps`.
 *
 * @example command.addOption(dbOption());
 */
export function dbOption(): Option {
  return new Option(
    "--db <url>",
    "users database: postgres://… for many nodes (or $SWIFTPROXY_DB); default SQLite in --data",
  );
}

/**
 * Adds {@linkcode dbOption} to every subcommand of `program` that takes `--data`, so each
 * command module declares `--data` only.
 */
export function addDbOptions(program: Command): Command {
  for (const command of program.commands) {
    if (
      command.options.some((o) => o.long === "--data") &&
      !command.options.some((o) => o.long === "--db")
    ) {
      command.addOption(dbOption());
    }
    addDbOptions(command);
  }
  return program;
}

/** How the commands reach the store of `--data`/`--db`; the caller's to close. */
export type OpenStore = (location: StoreLocation) => Promise<UserStore>;

/**
 * Runs a user command against the store, turning refusals into a message and exit 1.
 *
 * @example await withStore(open, options, (store) => store.remove(name));
 */
export async function withStore(
  open: OpenStore,
  location: StoreLocation,
  work: (store: UserStore) => Promise<void>,
): Promise<void> {
  let store: UserStore | undefined;
  try {
    store = await open(location);
    // Every change from the command line lands in the audit log as the "cli"'s.
    await work(audited(store, CLI_ACTOR));
  } catch (error) {
    console.error(`error: ${error instanceof Error ? error.message : String(error)}`);
    Deno.exitCode = 1;
  } finally {
    await store?.close();
  }
}
