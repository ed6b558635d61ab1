/**
 * Which users store a remote command opens: `--db URL` (or `SWIFTPROXY_DB`) naming
 * PostgreSQL, else the SQLite file in the data directory. Also the one place a database URL
 * is turned into text for people: with its password replaced.
 */
import { openPostgresStore, PostgresStore } from "./postgres_store.ts";
import { openExistingStore, openStore } from "./data_dir.ts";
import type { UserStore } from "./user_store.ts";

/** The environment variable that may hold the database URL (keeps a password out of `ps`). */
export const DB_ENV = "SWIFTPROXY_DB";

/** True when `url` names a PostgreSQL database. */
export function isPostgresUrl(url: string | undefined): url is string {
  return url !== undefined && /^postgres(ql)?:\/\//i.test(url);
}

/**
 * `url` with any password replaced by `***`, for logs and messages; also inside other text
 * (an error message quoting the URL).
 *
 * @example redactUrl("postgres://node:s3cret@db/swiftproxy") // "postgres://node:***@db/swiftproxy"
 */
export function redactUrl(text: string): string {
  return text.replace(/(postgres(?:ql)?:\/\/[^:/@\s]*:)[^@\s]*@/gi, "$1***@")
    .replace(/([?&]password=)[^&\s]*/gi, "$1***");
}

/** Where a command's users are: the options `--data` and `--db` after parsing. */
export interface StoreLocation {
  data: string;
  db?: string;
}

/** The database URL of `location`: `--db`, else `$SWIFTPROXY_DB`, else none (SQLite). */
export function databaseUrl(location: StoreLocation): string | undefined {
  return location.db || Deno.env.get(DB_ENV) || undefined;
}

/**
 * Opens the users store of `location`, creating (SQLite) or migrating it; `existing` refuses
 * a data directory without a `users.db` instead of creating one.
 *
 * @throws {Error} when the database cannot be reached (the message has no password)
 * @example const store = await openStoreAt({ data: "./swiftproxy-data", db: process.env.DB });
 */
export async function openStoreAt(
  location: StoreLocation,
  { existing = false } = {},
): Promise<UserStore> {
  const url = databaseUrl(location);
  if (isPostgresUrl(url)) return await openPostgresStore(url);
  if (url) throw new Error(`expected --db postgres://…, got "${redactUrl(url)}"`);
  return existing ? await openExistingStore(location.data) : await openStore(location.data);
}

/** True when `store` is shared by many nodes (PostgreSQL). */
export function isSharedStore(store: UserStore): store is PostgresStore {
  return store instanceof PostgresStore;
}
