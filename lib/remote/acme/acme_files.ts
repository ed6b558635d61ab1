/**
 * Where `--acme` keeps its state in the data directory: `acme/account.key` and
 * `acme/account.json` (the ACME account's key, and its URL at the directory that made it),
 * `acme/cert.pem` and `acme/key.pem` (the issued chain and its key). Files are written whole
 * (a temporary file renamed over the old one), so a reload never reads half a renewal.
 */
import { join } from "node:path";

/** The paths of `--acme`'s files inside data directory `dir`. */
export function acmePaths(
  dir: string,
): { account: string; accountUrl: string; cert: string; key: string } {
  return {
    account: join(dir, "acme", "account.key"),
    accountUrl: join(dir, "acme", "account.json"),
    cert: join(dir, "acme", "cert.pem"),
    key: join(dir, "acme", "key.pem"),
  };
}

/** The text of `path`, or undefined when there is no such file. */
export function readIfThere(path: string): string | undefined {
  try {
    return Deno.readTextFileSync(path);
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) return undefined;
    throw error;
  }
}

/**
 * Writes `text` to `path` through a temporary file and a rename, creating the folder (0700).
 *
 * @example writeWhole(acmePaths(dir).key, keyPem, 0o600);
 */
export function writeWhole(path: string, text: string, mode: number): void {
  Deno.mkdirSync(join(path, ".."), { recursive: true, mode: 0o700 });
  const temporary = `${path}.new`;
  Deno.writeTextFileSync(temporary, text, { mode });
  Deno.renameSync(temporary, path);
}

/**
 * The serving pair `--acme` left in `dir`, when both files are there.
 *
 * @example const pair = savedPair(dir); // { cert, key } | undefined
 */
export function savedPair(dir: string): { cert: string; key: string } | undefined {
  const paths = acmePaths(dir);
  const cert = readIfThere(paths.cert);
  const key = readIfThere(paths.key);
  return cert && key ? { cert, key } : undefined;
}

/**
 * Saves a new pair: the key first, then the chain, so a reader that sees the new chain sees
 * its key (a reload in between finds the old chain with the new key, refuses it and retries).
 */
export function savePair(dir: string, pair: { cert: string; key: string }): void {
  const paths = acmePaths(dir);
  writeWhole(paths.key, pair.key, 0o600);
  writeWhole(paths.cert, pair.cert, 0o644);
}
