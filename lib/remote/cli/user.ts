/** `swiftproxy-remote user …`: add, change, list and remove users (works while serve runs). */
import { Command } from "commander";
import { openStoreAt } from "../store/store_url.ts";
import type { UserStore } from "../store/user_store.ts";
import { dataOption, withStore } from "./options.ts";
import type { OpenStore } from "./options.ts";
import {
  addLimitOptions,
  batchNames,
  limitsFrom,
  MAX_BATCH,
  nameArg,
  overTemplate,
} from "../users/user_options.ts";
import type { Template, UserLimits } from "../store/user_store.ts";
import { generatePassword } from "../users/password.ts";
import { integerArg } from "../../common/ops/cli.ts";
import { chosenPassword, PASSWORD_ENV, passwordOption } from "./password_option.ts";
import { userJson, userTable } from "../users/user_view.ts";
import { addShareOptions, printShare, shareOf } from "./share_output.ts";
import type { ShareOptions } from "./share_output.ts";
import { keepChosen } from "./share_output.ts";
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
  const usage = await store.registry.usageByNode();
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
        "subscription URL; with --count, many at once",
    )
      .argument("[name]", "user name (left out with --count)", nameArg)
      .addOption(dataOption())
      .addOption(passwordOption())
      .option(BLOCK_FLAGS, BLOCK_HELP, userBlockArg)
      .option("--template <name>", "start from this template's settings; options given win")
      .option(
        "--count <n>",
        `make this many accounts at once (up to ${MAX_BATCH}), named --prefix and a number, ` +
          "with generated passwords, and print their links",
        integerArg(1, "10"),
      )
      .option("--prefix <text>", "with --count: the names' start (guest- makes guest-1, …)")
      .option("--csv", "with --count: print name,password,link,subscription as CSV", false),
  )).action(async (name: string | undefined, options) => {
    const batch = options.count !== undefined;
    const problem = batch === (name !== undefined)
      ? "give a user name, or --count N --prefix P (not both)"
      : batch && !options.prefix
      ? "--count needs --prefix (guest- makes guest-1, guest-2, …)"
      : batch && options.count > MAX_BATCH
      ? `--count: at most ${MAX_BATCH} at once`
      : batch && options.password !== undefined
      ? "--count makes generated passwords: leave --password out"
      : null;
    if (problem) return refuse(problem);
    const { password, generated, source } = batch
      ? { password: "", generated: true, source: "generated" }
      : await chosenPassword(options.password);
    await withStore(open, options, async (store) => {
      let limits: UserLimits = { ...limitsFrom(options), blockList: options.block };
      if (options.template) {
        limits = overTemplate(await templateLimits(store, options.template), limits);
      }
      if (batch) return await addBatch(store, limits, options);
      await store.add(name!, password, limits);
      // A variable set for the local could be picked up here unnoticed: say where it came from.
      console.log(
        `added user ${name}${source === PASSWORD_ENV ? ` (password from ${source})` : ""}` +
          (options.template ? ` from template ${options.template}` : ""),
      );
      if (generated) {
        console.log(`password (shown once): ${password}`);
        console.log(`trojan clients use the password: ${name}:${password}`);
        await printShare(store, name!, password, options);
      } else {
        await keepChosen(store, options, name!, password);
        console.log(LINK_HINT(name!));
      }
    });
  });

  addLimitOptions(
    user.command("set").description(
      "change a user's settings; without a name, those of every member of --group G",
    )
      .argument("[name]", "user name (left out: every member of --group)", nameArg)
      .addOption(dataOption())
      .option(BLOCK_FLAGS, BLOCK_HELP, userBlockArg),
  ).action((name: string | undefined, options) => {
    const limits: UserLimits = { ...limitsFrom(options), blockList: options.block };
    // Without a name, --group chooses the users, and is not a change.
    const group = name === undefined ? limits.group : undefined;
    if (name === undefined) delete limits.group;
    if (name === undefined && !group) {
      return refuse("give a user name, or --group G to change every member of G");
    }
    if (Object.values(limits).every((v) => v === undefined)) {
      return refuse(
        "nothing to change; give --up, --down, --quota, --max-conns, --max-ips, --expires, " +
          "--expires-after, --reset, --reset-day, --group or --block",
      );
    }
    return withStore(open, options, async (store) => {
      if (name !== undefined) {
        await store.setLimits(name, limits);
        return console.log(`updated user ${name}`);
      }
      const members = await store.groupMembers(group!);
      if (members.length === 0) throw new Error(`no user is in group "${group}"`);
      for (const member of members) await store.setLimits(member, limits);
      console.log(`updated ${members.length} user(s) of group ${group}: ${members.join(", ")}`);
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
    .option("--json", "print JSON (with the addresses each user was seen from)", false)
    .option("--by-node", "usage per node (a database shared by many nodes)", false)
    .option("--group <name>", "only the members of this group")
    .action((options) =>
      withStore(open, options, async (store) => {
        if (options.byNode) return await printByNode(store, options.json);
        const users = (await store.list()).filter((u) =>
          options.group === undefined || u.group === options.group
        );
        if (!options.json) return console.log(userTable(users));
        const sources = await store.sources();
        console.log(JSON.stringify(users.map((u) => userJson(u, sources.get(u.id))), null, 2));
      })
    );
  return user;
}

/** A usage refusal: the message, and exit status 2 (not an exit, so in-process callers live). */
function refuse(message: string): void {
  console.error(`error: ${message}`);
  Deno.exitCode = 2;
}

/** The settings of template `name`. @throws {Error} for an unknown template */
async function templateLimits(store: UserStore, name: string): Promise<UserLimits> {
  const template = (await store.templates()).find((t) => t.name === name);
  if (!template) throw new Error(`no template named "${name}" (see: template list)`);
  return template.limits;
}

/** `user add --count N --prefix P`: the accounts, then their links as a table or CSV. */
async function addBatch(
  store: UserStore,
  limits: UserLimits,
  options: ShareOptions & { count: number; prefix: string; csv: boolean },
): Promise<void> {
  const names = batchNames(options.prefix, options.count, (await store.list()).map((u) => u.name));
  const rows: string[][] = [];
  for (const name of names) {
    const password = generatePassword();
    await store.add(name, password, limits);
    const share = await shareOf(store, name, password, options);
    rows.push([name, password, share?.link ?? "", share?.subscription ?? ""]);
  }
  const header = ["name", "password", "link", "subscription"];
  if (options.csv) {
    const cell = (v: string) => /[",\n]/.test(v) ? `"${v.replaceAll('"', '""')}"` : v;
    console.log([header, ...rows].map((r) => r.map(cell).join(",")).join("\n"));
    return;
  }
  console.log(`added ${names.length} users (passwords shown once; links hold them):`);
  const table = [header.map((h) => h.toUpperCase()), ...rows];
  // Every row has the header's four cells.
  const widths = header.map((_, i) => Math.max(...table.map((r) => r[i]!.length)));
  console.log(
    table.map((r) => r.map((c, i) => c.padEnd(widths[i]!)).join("  ").trimEnd()).join("\n"),
  );
}

/**
 * The `template` command group: named settings (limits, quota, expiry rule, reset period,
 * device limit, block list) that `user add NAME --template T` starts from.
 */
export function templateCommands(
  open: OpenStore = (location) => openStoreAt(location, { existing: true }),
): Command {
  const template = new Command("template").description(
    "named sets of user settings for user add --template",
  );
  for (const [verb, create] of [["add", true], ["set", false]] as const) {
    addLimitOptions(
      template.command(verb).description(
        create ? "make a template from the settings given" : "change the settings given",
      )
        .argument("<name>", "template name", nameArg)
        .addOption(dataOption())
        .option(BLOCK_FLAGS, BLOCK_HELP, userBlockArg),
    ).action((name: string, options) =>
      withStore(open, options, async (store) => {
        const saved = await store.saveTemplate(
          name,
          { ...limitsFrom(options), blockList: options.block },
          create,
        );
        console.log(`${create ? "added" : "updated"} template ${name}: ${describeTemplate(saved)}`);
      })
    );
  }
  template.command("list").description("the templates and their settings")
    .addOption(dataOption())
    .option("--json", "print JSON instead of lines", false)
    .action((options) =>
      withStore(open, options, async (store) => {
        const all = await store.templates();
        if (options.json) return console.log(JSON.stringify(all, null, 2));
        if (all.length === 0) return console.log("no templates (template add NAME …)");
        for (const t of all) console.log(`${t.name}: ${describeTemplate(t)}`);
      })
    );
  template.command("remove").description("delete a template (users made from it keep theirs)")
    .argument("<name>", "template name", nameArg)
    .addOption(dataOption())
    .action((name: string, options) =>
      withStore(open, options, async (store) => {
        await store.removeTemplate(name);
        console.log(`removed template ${name}`);
      })
    );
  return template;
}

/** A template's settings in one line: `down=2097152 maxIps=2 block list`. */
function describeTemplate(t: Template): string {
  const parts = Object.entries(t.limits).map(([key, value]) =>
    key === "blockList" ? (value ? "block list" : "no block list") : `${key}=${value ?? "none"}`
  );
  return parts.length > 0 ? parts.join(" ") : "(no settings)";
}
