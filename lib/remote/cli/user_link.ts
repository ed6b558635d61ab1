/**
 * `swiftproxy-remote user link NAME`: the user's `trojan://` link, QR code and subscription
 * URL. The database holds only a hash of the password and of the subscription token; what
 * reprinting takes is kept sealed in the data directory (lib/remote/share/link_vault.ts), so the
 * link prints again without the password; else the current password (`--password`, checked
 * against the hash) or a new one (`--new-password`).
 */
import { Command, Option } from "commander";
import { currentLink, LinkVault } from "../share/link_vault.ts";
import type { KeptLink } from "../share/link_vault.ts";
import { keyForCredential, UserError } from "../store/user_store.ts";
import type { UserStore } from "../store/user_store.ts";
import { dataOption } from "./options.ts";
import { nameArg } from "../users/user_options.ts";
import { chosenPassword, PASSWORD_ENV, passwordOption } from "./password_option.ts";
import { addShareOptions, printShare } from "./share_output.ts";
import type { OpenStore, withStore as WithStore } from "./options.ts";

const HELP = `
The link holds the password, which the database keeps only as a hash: this data directory keeps
the link's password and subscription token sealed with a key of its own (link.key), so the same
link and subscription URL print again. When it has none (the user was made elsewhere, or their
password changed elsewhere), give the current password with --password (checked), or issue a
new one with --new-password (generated unless --password gives it; open connections close). A
new password comes with a new subscription URL (the old one served the old password); --rotate
issues a new one for the current password too.`;

/**
 * The `user link` command.
 *
 * @example user.addCommand(linkCommand(open, withStore));
 */
export function linkCommand(open: OpenStore, withStore: typeof WithStore): Command {
  return addShareOptions(
    new Command("link")
      .description("print a user's trojan:// link, QR code and subscription URL")
      .argument("<name>", "user name", nameArg)
      .addOption(dataOption())
      .addOption(passwordOption())
      .addOption(new Option("--new-password", "set a new password, with a new link"))
      .addOption(new Option("--rotate", "revoke the subscription URL and issue a new one"))
      .addHelpText("after", HELP),
  ).action(async (name: string, options) => {
    const given = options.password !== undefined || Deno.env.get(PASSWORD_ENV) !== undefined;
    const chosen = given || options.newPassword ? await chosenPassword(options.password) : null;
    await withStore(open, options, async (store: UserStore) => {
      const user = await store.get(name);
      if (!user) throw new UserError(`no user named "${name}"`);
      let password: string;
      let kept: KeptLink | undefined;
      if (options.newPassword) {
        password = chosen!.password;
        await store.setPassword(name, password);
        console.log(`changed the password of ${name}; open connections are closed`);
        if (!given) console.log(`password (shown once): ${password}`);
      } else if (chosen) {
        password = chosen.password;
        if (keyForCredential(name, password) !== user.key) {
          throw new UserError(
            `that is not the password of ${name}; issue a new one with --new-password`,
          );
        }
        kept = await currentLink(new LinkVault(options.data), store, user);
      } else {
        kept = await currentLink(new LinkVault(options.data), store, user);
        if (!kept) {
          throw new UserError(
            `${options.data} keeps no current link for ${name} (made elsewhere, or the password ` +
              "changed since): give the current one with --password - (standard input), or " +
              "issue a new one with --new-password",
          );
        }
        password = kept.password;
      }
      const issue = Boolean(options.newPassword || options.rotate);
      const subscription = issue
        ? { issue: true as const }
        : { issue: false as const, token: kept?.token };
      if (!await printShare(store, name, password, options, subscription)) Deno.exitCode = 1;
    });
  });
}
