/** The remote's data directory: `users.db` and `tls/cert.pem` + `tls/key.pem`. */
import { join } from "node:path";
import { createCertificate, fingerprint } from "./certificate.ts";
import { openSqliteStore } from "./sqlite_store.ts";
import type { UserStore } from "./user_store.ts";

/** `--data` default: systemd's `$STATE_DIRECTORY`, else `./swiftproxy-data`. */
export function defaultDataDir(): string {
  return Deno.env.get("STATE_DIRECTORY")?.split(":")[0] || "swiftproxy-data";
}

/** Paths inside a data directory. */
export function dataPaths(dir: string) {
  return {
    db: join(dir, "users.db"),
    cert: join(dir, "tls", "cert.pem"),
    key: join(dir, "tls", "key.pem"),
  };
}

function exists(path: string): boolean {
  try {
    Deno.statSync(path);
    return true;
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) return false;
    throw error;
  }
}

/** The data directory cannot be used: unwritable, or its database damaged. Says what to do. */
export class DataDirError extends Error {
  override name = "DataDirError";
}

/** A clear {@linkcode DataDirError} for `error`, thrown while opening or reading `path`. */
function dataDirError(dir: string, path: string, error: unknown): DataDirError {
  const why = error instanceof Error ? error.message.replace(`: ${path}`, "") : String(error);
  if (/malformed|not a database|corrupt/i.test(why)) {
    return new DataDirError(
      `the users database ${path} is damaged (${why}); restore it from a backup, or move it ` +
        `away and run "swiftproxy-remote init --data ${dir}" for an empty one`,
    );
  }
  return new DataDirError(
    `cannot use the data directory ${dir} (${why}); it must be writable by this user, ` +
      "since SQLite keeps users.db-wal and users.db-shm next to users.db",
  );
}

/** Opens the store at `path` and reads it once, so damage shows now, not at the first login. */
async function openChecked(dir: string, path: string): Promise<UserStore> {
  let store: UserStore | undefined;
  try {
    store = await openSqliteStore(path);
    await store.list();
    return store;
  } catch (error) {
    await store?.close().catch(() => {});
    throw dataDirError(dir, path, error);
  }
}

/**
 * Opens the users store, creating the directory and database if needed.
 *
 * @throws {DataDirError} when the directory is not writable or the database is damaged
 */
export function openStore(dir: string): Promise<UserStore> {
  try {
    Deno.mkdirSync(dir, { recursive: true, mode: 0o700 });
  } catch (error) {
    throw dataDirError(dir, dir, error);
  }
  return openChecked(dir, dataPaths(dir).db);
}

/**
 * Opens the users store of an initialised directory.
 *
 * @throws {Error} saying to run `init` when there is none
 * @throws {DataDirError} when the directory is not writable or the database is damaged
 */
export async function openExistingStore(dir: string): Promise<UserStore> {
  const path = dataPaths(dir).db;
  if (!exists(path)) {
    throw new Error(
      `no users database at ${path}; run "swiftproxy-remote init --data ${dir}" first`,
    );
  }
  return await openChecked(dir, path);
}

/**
 * Whether `init` made `dir`: it holds `users.db` or `tls/cert.pem` (a node on a shared
 * database keeps only the second). `serve` refuses anything else, so a mistyped `--data`
 * cannot start a new, empty server.
 */
export function isDataDir(dir: string): boolean {
  const paths = dataPaths(dir);
  return exists(paths.db) || exists(paths.cert);
}

/** The server's own names for its certificate: loopback, the host name, and extra ones. */
export function certificateNames(extra: string[] = []): string[] {
  let host: string[] = [];
  try {
    host = [Deno.hostname()];
  } catch {
    // no permission to read the host name: the loopback names and extras are enough
  }
  return ["localhost", "127.0.0.1", "::1", ...host, ...extra];
}

/**
 * Makes sure the directory has a certificate and key, creating a self-signed pair if not.
 *
 * @returns the certificate's path, whether it was created now, and its SHA-256 fingerprint
 * @throws {DataDirError} when the pair cannot be written
 */
export async function ensureCertificate(
  dir: string,
  extraNames: string[] = [],
): Promise<{ path: string; created: boolean; fingerprint: string }> {
  const paths = dataPaths(dir);
  let created = false;
  if (!exists(paths.cert) || !exists(paths.key)) {
    const pair = await createCertificate(certificateNames(extraNames));
    try {
      Deno.mkdirSync(join(dir, "tls"), { recursive: true, mode: 0o700 });
      Deno.writeTextFileSync(paths.key, pair.key, { mode: 0o600 });
      Deno.writeTextFileSync(paths.cert, pair.cert, { mode: 0o644 });
    } catch (error) {
      throw new DataDirError(
        `cannot write the certificate in ${join(dir, "tls")} (${(error as Error).message}); ` +
          "make the data directory writable, or give --cert and --key",
      );
    }
    created = true;
  }
  return {
    path: paths.cert,
    created,
    fingerprint: fingerprint(Deno.readTextFileSync(paths.cert)),
  };
}
