/**
 * The `swiftproxy-remote` command line, assembled from one module per subcommand group
 * (`init.ts`, `serve.ts`, `user.ts`); a new subcommand is a new module added here.
 */
import type { Command } from "commander";
import { program, run } from "../../common/ops/cli.ts";
import { initCommand } from "./init.ts";
import { serveCommand } from "./serve.ts";
import { templateCommands, userCommands } from "./user.ts";
import { adminCommands } from "./admin.ts";
import { nodeCommands } from "./node.ts";
import { migrateCommand } from "./migrate.ts";
import { addDbOptions } from "./options.ts";

/** Builds the `swiftproxy-remote` program. */
export function remoteProgram(): Command {
  const remote = program(
    "swiftproxy-remote",
    "SwiftProxy server: TLS, Trojan-compatible tunnels, per-user limits and accounting",
  )
    .addCommand(initCommand())
    .addCommand(serveCommand())
    .addCommand(userCommands())
    .addCommand(templateCommands())
    .addCommand(adminCommands())
    .addCommand(nodeCommands())
    .addCommand(migrateCommand());
  return addDbOptions(remote);
}

/**
 * Runs `swiftproxy-remote` with `args`.
 *
 * @example await main(Deno.args);
 */
export function main(args: string[]): Promise<void> {
  return run(remoteProgram(), args);
}
