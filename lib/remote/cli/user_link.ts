/**
 * `swiftproxy-remote user link NAME`: the user's `trojan://` link, QR code and subscription
 * URL. The database holds only a hash of the password, so the link needs either the current
 * password (`--password`, checked against the hash) or a new one (`--new-password`).
 */
import { Command, Option } from "commander";
import { usageError } from "../../common/ops/cli.ts";
import { keyForCredential, UserError } from "../store/user_store.ts";
import type { UserStore } from "../store/user_store.ts";
import { dataOption } from "./options.ts";
import { nameArg } from "../users/user_options.ts";
import { chosenPassword, PASSWORD_ENV, passwordOption } from "./password_option.ts";
import { addShareOptions, printShare } from "./share_output.ts";
import type { OpenStore, withStore as WithStore } from "./options.ts";

const HELP = `
The database keeps only a hash of each password, so the link (which holds the password) can be
printed only while the password is known: give the current one with --password (checked), or
issue a new one with --new-password (generated unless --password gives it; open connections
close). A new password comes with a new subscription URL (the old one is revoked: it served the
old password); --rotate issues a new one for the current password too. The subscription token
is stored hashed, so an existing URL cannot be printed again.`;

/**
 * The `user link` command.
 *
 * @example user.addCommand(linkCommand(open, withStore));
 */
export function linkCommand(open: OpenStore, withStore: typeof WithStore): Command {
  return addShareOptions(
    new Command("link")
      .description("print a user's trojan:// link, QR code and a new subscription URL")
      .argument("<name>", "user name", nameArg)
      .addOption(dataOption())
      .addOption(passwordOption())
      .addOption(
        new Option("--new-password", "set a new password (the stored hash cannot give the old)"),
      )
      .addOption(new Option("--rotate", "revoke the subscription URL and issue a new one"))
      .addHelpText("after", HELP),
  ).action(async (name: string, options) => {
    const given = options.password !== undefined || Deno.env.get(PASSWORD_ENV) !== undefined;
    if (!options.newPassword && !given) {
      usageError(
        "the database holds only a hash of the password: give the current one with " +
          "--password - (standard input), or issue a new one with --new-password",
      );
    }
    const { password } = await chosenPassword(options.password);
    await withStore(open, options, async (store: UserStore) => {
      const user = await store.get(name);
      if (!user) throw new UserError(`no user named "${name}"`);
      if (options.newPassword) {
        await store.setPassword(name, password);
        console.log(`changed the password of ${name}; open connections are closed`);
        if (!given) console.log(`password (shown once): ${password}`);
      } else if (keyForCredential(name, password) !== user.key) {
        throw new UserError(
          `that is not the password of ${name}; issue a new one with --new-password`,
        );
      }
      const issue = Boolean(options.newPassword || options.rotate);
      if (!await printShare(store, name, password, options, issue)) Deno.exitCode = 1;
    });
  });
}
