/**
 * `swiftproxy-remote admin passwd`: makes (or changes) the admin panel's account. The password
 * comes from `--password`, `$SWIFTPROXY_PASSWORD` or a line on stdin, else one is generated
 * and printed once; there is never a default. A new password ends every panel session on
 * every node within a second or two. `admin unlock` clears the panel's login cool-offs.
 */
import { Command } from "commander";
import { usageError } from "../../common/ops/cli.ts";
import { openStoreAt } from "../store/store_url.ts";
import { generatePassword } from "../users/password.ts";
import { hashPassword, MIN_ADMIN_PASSWORD } from "../admin/password_hash.ts";
import { dataOption } from "./options.ts";

/** The first line on stdin when it is not a terminal (a pipe or a file), else undefined. */
async function stdinLine(): Promise<string | undefined> {
  if (Deno.stdin.isTerminal()) return undefined;
  const chunks: Uint8Array[] = [];
  for await (const chunk of Deno.stdin.readable) chunks.push(chunk);
  const text = new TextDecoder().decode(await new Blob(chunks as BlobPart[]).arrayBuffer());
  const line = text.split(/\r?\n/)[0];
  return line === "" ? undefined : line;
}

/** The `admin` command group. */
export function adminCommands(): Command {
  const admin = new Command("admin").description("the admin panel's account (serve --admin)");
  admin.command("passwd")
    .description(
      "set the admin password: --password, $SWIFTPROXY_PASSWORD or stdin, else a generated one printed once",
    )
    .addOption(dataOption())
    .option("--password <password>", `the password (at least ${MIN_ADMIN_PASSWORD} characters)`)
    .action(async (options) => {
      const given = options.password ?? Deno.env.get("SWIFTPROXY_PASSWORD") ?? await stdinLine();
      if (given !== undefined && given.length < MIN_ADMIN_PASSWORD) {
        usageError(
          `--password: expected at least ${MIN_ADMIN_PASSWORD} characters, got ${given.length}`,
        );
      }
      const password = given ?? generatePassword();
      const store = await openStoreAt(options);
      try {
        await store.setAdminPasswordHash(await hashPassword(password));
      } finally {
        await store.close();
      }
      console.log(
        "set the admin password; running panels take it at the next login and end every " +
          "session opened with the old one",
      );
      if (given === undefined) console.log(`admin password (shown once): ${password}`);
    });
  admin.command("unlock")
    .description(
      "let logins into the panel again after failed ones made it refuse them (every node)",
    )
    .addOption(dataOption())
    .action(async (options) => {
      const store = await openStoreAt(options);
      let unlocked: boolean;
      try {
        unlocked = await store.unlockAdmin();
      } finally {
        await store.close();
      }
      if (!unlocked) usageError("there is no admin account yet: run admin passwd first");
      console.log("running panels let logins in again within a few seconds");
    });
  return admin;
}
