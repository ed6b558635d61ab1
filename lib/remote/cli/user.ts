/** `swiftproxy-remote user …`: add, change, list and remove users (works while serve runs). */
import { Command } from "commander";
import { openStoreAt } from "../store/store_url.ts";
import type { UserStore } from "../store/user_store.ts";
import { dataOption, withStore } from "./options.ts";
import type { OpenStore } from "./options.ts";
import { addLimitOptions, limitsFrom, nameArg } from "../users/user_options.ts";
import { chosenPassword, PASSWORD_ENV, passwordOption } from "./password_option.ts";
import { userJson, userTable } from "../users/user_view.ts";
import { addShareOptions, keepChosen, printShare } from "./share_output.ts";
import { LinkVault } from "../share/link_vault.ts";
import { linkCommand } from "./user_link.ts";
import { usageByNodeTable } from "./node.ts";
import { PostgresStore } from "../store/postgres_store.ts";
import { BLOCK_FORMATS, userBlockArg } from "./block_option.ts";

/** `--block FILE|none` of `user add` and `user set`. */
const BLOCK_FLAGS = "--block <file>";
const BLOCK_HELP = `refuse these destinations for this user ("none" clears): ${BLOCK_FORMATS}`;

/** `user list --by-node`: the usage each node wrote, per user. */
async function printByNode(store: UserStore, json: boolean): Promise<void> {
  if (!(store instanceof PostgresStore)) {
    throw new Error("--by-node needs the nodes' shared database: --db postgres://…");
  }
  const usage = await store.usageByNode();
  console.log(json ? JSON.stringify(usage, null, 2) : usageByNodeTable(usage));
}

/** Where the link is, when the password was chosen (and so is not printed). */
const LINK_HINT = (name: string) =>
  `link, QR code and subscription URL: swiftproxy-remote user link ${name}`;

/**
 * The `user` command group. `open` is how a command reaches the users store (the data
 * directory's SQLite file unless told otherwise).
 */
export function userCommands(
  open: OpenStore = (location) => openStoreAt(location, { existing: true }),
): Command {
  const user = new Command("user").description("manage users (works while serve runs)");

  addLimitOptions(addShareOptions(
    user.command("add").description(
      "add a user; prints a generated password if none is given, with its link, QR code and " +
        "subscription URL",
    )
      .argument("<name>", "user name", nameArg)
      .addOption(dataOption())
      .addOption(passwordOption())
      .option(BLOCK_FLAGS, BLOCK_HELP, userBlockArg),
  )).action(async (name: string, options) => {
    const { password, generated, source } = await chosenPassword(options.password);
    await withStore(open, options, async (store) => {
      await store.add(name, password, { ...limitsFrom(options), blockList: options.block });
      // A variable set for the local could be picked up here unnoticed: say where it came from.
      console.log(
        `added user ${name}${source === PASSWORD_ENV ? ` (password from ${source})` : ""}`,
      );
      if (generated) {
        console.log(`password (shown once): ${password}`);
        console.log(`trojan clients use the password: ${name}:${password}`);
        await printShare(store, name, password, options);
      } else {
        await keepChosen(store, options, name, password);
        console.log(LINK_HINT(name));
      }
    });
  });

  addLimitOptions(
    user.command("set").description("change a user's limits")
      .argument("<name>", "user name", nameArg)
      .addOption(dataOption())
      .option(BLOCK_FLAGS, BLOCK_HELP, userBlockArg),
  ).action((name: string, options) => {
    const limits = { ...limitsFrom(options), blockList: options.block };
    if (Object.values(limits).every((v) => v === undefined)) {
      console.error(
        "error: nothing to change; give --up, --down, --quota, --max-conns, --expires, --reset-day or --block",
      );
      Deno.exit(2);
    }
    return withStore(open, options, async (store) => {
      await store.setLimits(name, limits);
      console.log(`updated user ${name}`);
    });
  });

  addShareOptions(
    user.command("passwd").description(
      "set a new password (generated when left out; then printed with the link, QR code and " +
        "a new subscription URL)",
    )
      .argument("<name>", "user name", nameArg)
      .addOption(dataOption())
      .addOption(passwordOption()),
  ).action(async (name: string, options) => {
    const { password, generated } = await chosenPassword(options.password);
    await withStore(open, options, async (store) => {
      await store.setPassword(name, password);
      console.log(`changed the password of ${name}; open connections are closed`);
      if (generated) {
        console.log(`password (shown once): ${password}`);
        await printShare(store, name, password, options);
      } else {
        await keepChosen(store, options, name, password);
        console.log(LINK_HINT(name));
      }
    });
  });

  user.addCommand(linkCommand(open, withStore));

  /** Each command changes one user and says what happened, in words. */
  type Change = (store: UserStore, name: string, dataDir: string) => Promise<string>;
  const enabled = (on: boolean): Change => async (store, name) => {
    const before = await store.get(name);
    if (before && before.enabled === on) return `${name} is already ${on ? "enabled" : "disabled"}`;
    await store.setEnabled(name, on);
    return on
      ? `enabled ${name}: they can connect again`
      : `disabled ${name}: new connections are refused, open ones close within a second`;
  };
  const simple: [string, string, Change][] = [
    ["enable", "let a user connect again", enabled(true)],
    ["disable", "refuse a user and close their connections", enabled(false)],
    ["remove", "delete a user and close their connections", async (store, name, dataDir) => {
      await store.remove(name);
      new LinkVault(dataDir).forget(name);
      return `removed ${name}: open connections close within a second`;
    }],
    ["reset-usage", "set a user's usage back to zero", async (store, name) => {
      await store.resetUsage(name);
      return `reset the usage of ${name} to zero`;
    }],
  ];
  for (const [verb, description, change] of simple) {
    user.command(verb).description(description)
      .argument("<name>", "user name", nameArg)
      .addOption(dataOption())
      .action((name: string, options) =>
        withStore(open, options, async (store) => {
          console.log(await change(store, name, options.data));
        })
      );
  }

  user.command("list").description("users with their limits and usage")
    .addOption(dataOption())
    .option("--json", "print JSON instead of a table", false)
    .option("--by-node", "usage per node (a database shared by many nodes)", false)
    .action((options) =>
      withStore(open, options, async (store) => {
        if (options.byNode) return await printByNode(store, options.json);
        const users = await store.list();
        console.log(options.json ? JSON.stringify(users.map(userJson), null, 2) : userTable(users));
      })
    );
  return user;
}
