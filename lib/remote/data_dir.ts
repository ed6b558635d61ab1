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

/** Opens the users store, creating the directory and database if needed. */
export function openStore(dir: string): Promise<UserStore> {
  Deno.mkdirSync(dir, { recursive: true, mode: 0o700 });
  return openSqliteStore(dataPaths(dir).db);
}

/**
 * Opens the users store of an initialised directory.
 *
 * @throws {Error} saying to run `init` when there is none
 */
export async function openExistingStore(dir: string): Promise<UserStore> {
  const path = dataPaths(dir).db;
  if (!exists(path)) {
    throw new Error(
      `no users database at ${path}; run "swiftproxy-remote init --data ${dir}" first`,
    );
  }
  return await openSqliteStore(path);
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
 */
export async function ensureCertificate(
  dir: string,
  extraNames: string[] = [],
): Promise<{ path: string; created: boolean; fingerprint: string }> {
  const paths = dataPaths(dir);
  let created = false;
  if (!exists(paths.cert) || !exists(paths.key)) {
    Deno.mkdirSync(join(dir, "tls"), { recursive: true, mode: 0o700 });
    const pair = await createCertificate(certificateNames(extraNames));
    Deno.writeTextFileSync(paths.key, pair.key, { mode: 0o600 });
    Deno.writeTextFileSync(paths.cert, pair.cert, { mode: 0o644 });
    created = true;
  }
  return {
    path: paths.cert,
    created,
    fingerprint: await fingerprint(Deno.readTextFileSync(paths.cert)),
  };
}
