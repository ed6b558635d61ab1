/** The option every `swiftproxy-remote` subcommand takes: `--data DIR`. */
import { Option } from "commander";
import { defaultDataDir } from "../data_dir.ts";

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
