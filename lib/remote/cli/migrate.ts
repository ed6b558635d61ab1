/**
 * `swiftproxy-remote migrate --from DIR --to postgres://…`: copies the users, their limits,
 * reset days and usage, and the admin panel's account, from a SQLite data directory into a
 * shared database. Running it again changes
 * nothing; a database holding other users (or the same ones with other data) is left alone
 * unless `--force`, which replaces them.
 */
import { Command, Option } from "commander";
import { openExistingStore } from "../store/data_dir.ts";
import { DB_ENV, isPostgresUrl, redactUrl } from "../store/store_url.ts";
import { openPostgresStore } from "../store/postgres_store.ts";
import type { PostgresStore } from "../store/postgres_store.ts";
import type { User, UserStore } from "../store/user_store.ts";

/** The fields a copy keeps: everything but the id (each database numbers its own). */
function comparable(u: User): unknown[] {
  return [
    u.name,
    u.key,
    u.upLimit,
    u.downLimit,
    u.quota,
    u.maxConns,
    u.enabled,
    u.expiresAt,
    u.bytesUp,
    u.bytesDown,
    u.resetDay ?? 0,
    u.lastResetAt ?? null,
    u.createdAt,
  ];
}

/** What {@linkcode copyUsers} did; `admin` when it copied the admin panel's account too. */
export type CopyResult =
  | { done: "copied"; users: number; admin: boolean }
  | { done: "unchanged"; users: number; admin: boolean }
  | { done: "refused"; differing: string[] };

/**
 * Copies every user of `from` into `to`: into an empty database, or over the users there with
 * `force`; nothing when `to` already holds exactly these users.
 *
 * @example const result = await copyUsers(sqlite, pg, false);
 */
export async function copyUsers(
  from: UserStore,
  to: PostgresStore,
  force: boolean,
): Promise<CopyResult> {
  const source = await from.list();
  const target = await to.list();
  const there = new Map(target.map((u) => [u.name, JSON.stringify(comparable(u))]));
  const differing = [
    ...source.filter((u) => there.get(u.name) !== JSON.stringify(comparable(u))).map((u) => u.name),
    ...target.filter((u) => !source.some((s) => s.name === u.name)).map((u) => u.name),
  ];
  if (differing.length > 0 && target.length > 0 && !force) return { done: "refused", differing };
  if (differing.length > 0) await to.importUsers(source, true);
  const admin = await copyAdminAccount(from, to, force);
  return { done: differing.length > 0 ? "copied" : "unchanged", users: source.length, admin };
}

/**
 * Copies the admin panel's admins (password hash, two-factor secret, recovery codes) that `to`
 * does not have, or over different ones with `force`, and the API tokens it does not have;
 * true when it copied any.
 */
async function copyAdminAccount(from: UserStore, to: UserStore, force: boolean) {
  const there = new Map((await to.admins()).map((a) => [a.name, a]));
  let copied = false;
  for (const admin of await from.admins()) {
    const theirs = there.get(admin.name);
    if (theirs?.hash === admin.hash || (theirs !== undefined && !force)) continue;
    const { hash, totpSecret, recovery } = admin;
    await to.putAdmin(admin.name, { hash, totpSecret, recovery });
    copied = true;
  }
  const tokens = new Set((await to.tokens()).map((t) => t.name));
  for (const token of await from.tokens()) {
    if (tokens.has(token.name)) continue;
    await to.addToken(token);
    copied = true;
  }
  return copied;
}

/** The `migrate` subcommand. */
export function migrateCommand(): Command {
  return new Command("migrate")
    .description(
      "copy users, limits, usage and the admin account from a SQLite data directory to PostgreSQL",
    )
    .requiredOption("--from <dir>", "the data directory holding users.db")
    .addOption(
      new Option("--to <url>", "the PostgreSQL database: postgres://…").env(DB_ENV),
    )
    .option("--force", "replace users already in the database that differ", false)
    .action(async (options) => {
      if (!isPostgresUrl(options.to)) {
        console.error("error: --to needs a PostgreSQL URL, postgres://… (or SWIFTPROXY_DB)");
        Deno.exit(2);
      }
      let from: UserStore | undefined;
      let to: PostgresStore | undefined;
      try {
        from = await openExistingStore(options.from);
        to = await openPostgresStore(options.to);
        const result = await copyUsers(from, to, options.force);
        const where = redactUrl(options.to);
        if (result.done === "copied") console.log(`copied ${result.users} user(s) to ${where}`);
        if (result.done === "unchanged") {
          console.log(`${where} already holds these ${result.users} user(s); nothing to do`);
        }
        if (result.done !== "refused" && result.admin) {
          console.log("copied the admin panel's account (admin passwd)");
        }
        if (result.done === "refused") {
          console.error(
            `error: ${where} holds other data for ${result.differing.join(", ")}; ` +
              "add --force to replace the users there with those of " + options.from,
          );
          Deno.exitCode = 1;
        }
      } catch (error) {
        console.error(`error: ${redactUrl((error as Error).message)}`);
        Deno.exitCode = 1;
      } finally {
        await from?.close();
        await to?.close();
      }
    });
}
