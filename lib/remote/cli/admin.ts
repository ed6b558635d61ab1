/**
 * `swiftproxy-remote admin …`: the admin panel's accounts, API tokens and audit log.
 *
 * `admin passwd [NAME]` makes (or changes) an admin's password ("admin" when no name is given,
 * as before there were several); `admin add NAME`, `admin remove NAME`, `admin list`. The
 * password comes from `--password`, `$SWIFTPROXY_PASSWORD` or a line on stdin, else one is
 * generated and printed once; there is never a default. A new password or a removed admin ends
 * that admin's panel sessions on every node at their next request. `admin unlock` clears the
 * panel's login cool-offs. `admin token add|list|revoke` manage the JSON API's bearer tokens
 * (printed once, stored as hashes); `admin log` prints the audit log.
 */
import { Command } from "commander";
import { Buffer } from "node:buffer";
import { usageError } from "../../common/ops/cli.ts";
import { openStoreAt } from "../store/store_url.ts";
import type { StoreLocation } from "../store/store_url.ts";
import { keyForToken } from "../store/user_store.ts";
import type { UserStore } from "../store/user_store.ts";
import { DEFAULT_ADMIN, firstAdmin } from "../store/admin_store.ts";
import type { AuditEntry } from "../store/admin_store.ts";
import { generatePassword } from "../users/password.ts";
import { audited, CLI_ACTOR, parseSince } from "../users/audit.ts";
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

/** Admin and token names: as user names, 1–64 letters, digits, `_ . @ -`. */
function nameArg(what: string) {
  return (text: string): string => {
    if (!/^[A-Za-z0-9_.@-]{1,64}$/.test(text)) {
      usageError(`${what}: expected 1 to 64 letters, digits, "_", ".", "@" or "-", got "${text}"`);
    }
    return text;
  };
}

/** Runs `work` on the audited store of `location`, closing it after. */
async function withAdminStore<T>(
  location: StoreLocation,
  work: (store: UserStore) => Promise<T>,
): Promise<T> {
  const store = await openStoreAt(location);
  try {
    return await work(audited(store, CLI_ACTOR));
  } finally {
    await store.close();
  }
}

/** The password from `--password`, the variable or stdin; else a generated one. */
async function adminPassword(option: string | undefined) {
  const given = option ?? Deno.env.get("SWIFTPROXY_PASSWORD") ?? await stdinLine();
  if (given !== undefined && given.length < MIN_ADMIN_PASSWORD) {
    usageError(
      `--password: expected at least ${MIN_ADMIN_PASSWORD} characters, got ${given.length}`,
    );
  }
  return { password: given ?? generatePassword(), generated: given === undefined };
}

const PASSWORD_HELP = `the password (at least ${MIN_ADMIN_PASSWORD} characters)`;

/** The audit log as a table: when, who, from where, what, before → after. */
export function auditTable(entries: AuditEntry[]): string {
  if (entries.length === 0) return "no changes recorded";
  return entries.map((e) =>
    [
      new Date(e.at).toISOString().replace(/\.\d+Z$/, "Z"),
      e.actor,
      e.source,
      e.action,
      e.target,
      e.before === null && e.after === null ? "" : `${e.before ?? "-"} → ${e.after ?? "-"}`,
    ].join("  ")
  ).join("\n");
}

function tokenCommands(): Command {
  const token = new Command("token").description(
    "bearer tokens for the JSON API (Authorization: Bearer TOKEN)",
  );
  token.command("add")
    .description("make a token; it is printed once and stored only as a hash")
    .argument("<name>", "what the token is for, e.g. ci or grafana", nameArg("token name"))
    .option("--read-only", "the token can read but change nothing (403)", false)
    .addOption(dataOption())
    .action(async (name: string, options) => {
      const secret = `spt_${
        Buffer.from(crypto.getRandomValues(new Uint8Array(32))).toString("base64url")
      }`;
      await withAdminStore(options, (store) =>
        store.addToken({
          name,
          key: keyForToken(secret),
          readOnly: options.readOnly,
          createdAt: Date.now(),
          lastUsedAt: null,
        }));
      console.log(`added ${options.readOnly ? "read-only " : ""}token ${name}`);
      console.log(`token (shown once): ${secret}`);
    });
  token.command("list")
    .description("tokens: name, scope, created, last used")
    .option("--json", "print JSON instead of a table", false)
    .addOption(dataOption())
    .action(async (options) => {
      const tokens = await withAdminStore(options, (store) => store.tokens());
      const rows = tokens.map((t) => ({
        name: t.name,
        scope: t.readOnly ? "read-only" : "read-write",
        created: new Date(t.createdAt).toISOString(),
        lastUsed: t.lastUsedAt === null ? null : new Date(t.lastUsedAt).toISOString(),
      }));
      if (options.json) return console.log(JSON.stringify(rows, null, 2));
      console.log(
        rows.length === 0
          ? "no tokens"
          : rows.map((r) =>
            [r.name, r.scope, `created ${r.created}`, `last used ${r.lastUsed ?? "never"}`]
              .join("  ")
          ).join("\n"),
      );
    });
  token.command("revoke")
    .description("remove a token: requests with it are refused (401) from then on")
    .argument("<name>", "token name", nameArg("token name"))
    .addOption(dataOption())
    .action(async (name: string, options) => {
      if (!await withAdminStore(options, (store) => store.revokeToken(name))) {
        usageError(`no token named "${name}"`);
      }
      console.log(`revoked token ${name}`);
    });
  return token;
}

/** The `admin` command group. */
export function adminCommands(): Command {
  const admin = new Command("admin").description(
    "the admin panel's accounts, API tokens and audit log (serve --admin)",
  );
  admin.command("passwd")
    .description(
      `set an admin's password (NAME defaults to "${DEFAULT_ADMIN}", the first admin): ` +
        "--password, $SWIFTPROXY_PASSWORD or stdin, else a generated one printed once",
    )
    .argument("[name]", "the admin", nameArg("admin name"))
    .addOption(dataOption())
    .option("--password <password>", PASSWORD_HELP)
    .action(async (name: string | undefined, options) => {
      const { password, generated } = await adminPassword(options.password);
      const hash = await hashPassword(password);
      const who = await withAdminStore(options, async (store) => {
        const admins = await store.admins();
        const who = name ?? firstAdmin(admins)?.name ?? DEFAULT_ADMIN;
        const exists = admins.some((a) => a.name === who);
        if (!exists && admins.length > 0 && who !== DEFAULT_ADMIN) {
          usageError(`no admin named "${who}"; add one with: swiftproxy-remote admin add ${who}`);
        }
        await store.putAdmin(who, { hash });
        return who;
      });
      console.log(
        `set the password of admin ${who}; running panels take it at the next login and end ` +
          "every session opened with the old one",
      );
      if (generated) console.log(`admin password (shown once): ${password}`);
    });
  admin.command("add")
    .description("add an admin of the panel (the login then asks for a name)")
    .argument("<name>", "the new admin", nameArg("admin name"))
    .addOption(dataOption())
    .option("--password <password>", PASSWORD_HELP)
    .action(async (name: string, options) => {
      const { password, generated } = await adminPassword(options.password);
      const hash = await hashPassword(password);
      await withAdminStore(options, async (store) => {
        if ((await store.admins()).some((a) => a.name === name)) {
          usageError(`admin "${name}" already exists; change the password with admin passwd`);
        }
        await store.putAdmin(name, { hash });
      });
      console.log(`added admin ${name}`);
      if (generated) console.log(`admin password (shown once): ${password}`);
    });
  admin.command("remove")
    .description("remove an admin; their open panel sessions end at their next request")
    .argument("<name>", "the admin", nameArg("admin name"))
    .addOption(dataOption())
    .action(async (name: string, options) => {
      if (!await withAdminStore(options, (store) => store.removeAdmin(name))) {
        usageError(`no admin named "${name}"`);
      }
      console.log(`removed admin ${name}`);
    });
  admin.command("list")
    .description("the admins, with whether each signs in with a second factor")
    .addOption(dataOption())
    .action(async (options) => {
      const admins = await withAdminStore(options, (store) => store.admins());
      console.log(
        admins.length === 0
          ? "no admins yet: run admin passwd"
          : admins.map((a) =>
            `${a.name}  ${
              a.totpSecret ? `two-factor on, ${a.recovery.length} recovery codes left` : "password"
            }`
          ).join("\n"),
      );
    });
  admin.command("unlock")
    .description(
      "let logins into the panel again after failed ones made it refuse them (every node)",
    )
    .addOption(dataOption())
    .action(async (options) => {
      if (!await withAdminStore(options, (store) => store.unlockAdmin())) {
        usageError("there is no admin account yet: run admin passwd first");
      }
      console.log("running panels let logins in again within a few seconds");
    });
  admin.addCommand(tokenCommands());
  admin.command("log")
    .description("the audit log: every change, who made it, from where, before → after")
    .option("--user <name>", "only changes by this admin (or token:NAME, cli) or to this user")
    .option("--since <when>", "from 30m, 12h, 7d, 2w ago or a date such as 2026-05-01")
    .option("--json", "print JSON instead of a table", false)
    .addOption(dataOption())
    .action(async (options) => {
      let since: number | undefined;
      try {
        since = options.since === undefined ? undefined : parseSince(options.since);
      } catch (error) {
        usageError(`--since: ${(error as Error).message}`);
      }
      const entries = await withAdminStore(
        options,
        (store) =>
          store.auditLog({
            ...(options.user === undefined ? {} : { who: options.user }),
            ...(since === undefined ? {} : { since }),
          }),
      );
      console.log(options.json ? JSON.stringify(entries, null, 2) : auditTable(entries));
    });
  return admin;
}
