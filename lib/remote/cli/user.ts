/** `swiftproxy-remote user …`: add, change, list and remove users (works while serve runs). */
import { Command } from "commander";
import { generatePassword } from "../password.ts";
import { openExistingStore } from "../data_dir.ts";
import type { UserStore } from "../user_store.ts";
import { dataOption } from "./options.ts";
import { addLimitOptions, limitsFrom, nameArg } from "./user_options.ts";
import { userJson, userTable } from "./user_view.ts";

/** How the commands reach the store of a `--data` directory; the caller's to close. */
export type OpenStore = (dir: string) => Promise<UserStore>;

/** Runs a user command against the store, turning refusals into a message and exit 1. */
async function withStore(
  open: OpenStore,
  dir: string,
  work: (store: UserStore) => Promise<void>,
): Promise<void> {
  let store: UserStore | undefined;
  try {
    store = await open(dir);
    await work(store);
  } catch (error) {
    console.error(`error: ${error instanceof Error ? error.message : String(error)}`);
    Deno.exitCode = 1;
  } finally {
    await store?.close();
  }
}

/**
 * The `user` command group. `open` is how a command reaches the users store (the data
 * directory's SQLite file unless told otherwise).
 */
export function userCommands(open: OpenStore = openExistingStore): Command {
  const user = new Command("user").description("manage users (works while serve runs)");

  addLimitOptions(
    user.command("add").description("add a user; prints a generated password if none is given")
      .argument("<name>", "user name", nameArg)
      .addOption(dataOption())
      .option("--password <password>", "the password (generated when left out)"),
  ).action((name: string, options) =>
    withStore(open, options.data, async (store) => {
      const password = options.password ?? generatePassword();
      await store.add(name, password, limitsFrom(options));
      console.log(`added user ${name}`);
      if (!options.password) {
        console.log(`password (shown once): ${password}`);
        console.log(`trojan clients use the password: ${name}:${password}`);
      }
    })
  );

  addLimitOptions(
    user.command("set").description("change a user's limits")
      .argument("<name>", "user name", nameArg)
      .addOption(dataOption()),
  ).action((name: string, options) => {
    const limits = limitsFrom(options);
    if (Object.values(limits).every((v) => v === undefined)) {
      console.error(
        "error: nothing to change; give --up, --down, --quota, --max-conns or --expires",
      );
      Deno.exit(2);
    }
    return withStore(open, options.data, async (store) => {
      await store.setLimits(name, limits);
      console.log(`updated user ${name}`);
    });
  });

  user.command("passwd").description("set a new password (generated when left out)")
    .argument("<name>", "user name", nameArg)
    .addOption(dataOption())
    .option("--password <password>", "the new password")
    .action((name: string, options) =>
      withStore(open, options.data, async (store) => {
        const password = options.password ?? generatePassword();
        await store.setPassword(name, password);
        console.log(`changed the password of ${name}; open connections are closed`);
        if (!options.password) console.log(`password (shown once): ${password}`);
      })
    );

  const simple: [string, string, (store: UserStore, name: string) => Promise<unknown>][] = [
    ["enable", "let a user connect again", (store, name) => store.setEnabled(name, true)],
    [
      "disable",
      "refuse a user and close their connections",
      (store, name) => store.setEnabled(name, false),
    ],
    ["remove", "delete a user and close their connections", (store, name) => store.remove(name)],
    ["reset-usage", "set a user's usage back to zero", (store, name) => store.resetUsage(name)],
  ];
  for (const [verb, description, change] of simple) {
    user.command(verb).description(description)
      .argument("<name>", "user name", nameArg)
      .addOption(dataOption())
      .action((name: string, options) =>
        withStore(open, options.data, async (store) => {
          await change(store, name);
          console.log(`${verb}: ${name}`);
        })
      );
  }

  user.command("list").description("users with their limits and usage")
    .addOption(dataOption())
    .option("--json", "print JSON instead of a table", false)
    .action((options) =>
      withStore(open, options.data, async (store) => {
        const users = await store.list();
        console.log(options.json ? JSON.stringify(users.map(userJson), null, 2) : userTable(users));
      })
    );
  return user;
}
