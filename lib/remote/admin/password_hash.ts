/**
 * The admin password as stored: scrypt (RFC 7914) with a random salt, so a copied database
 * does not hand out the panel, and checking a guess costs the guesser real memory and time.
 */
import { Buffer } from "node:buffer";
import { randomBytes, scrypt } from "node:crypto";
import { timingSafeEqual } from "../../common/security/timing_safe.ts";

/** scrypt cost: N = 2^15, r = 8 (32 MiB, tens of milliseconds), p = 1. */
const N = 1 << 15;
const R = 8;
const P = 1;
const KEY_LENGTH = 32;

function derive(password: string, salt: Buffer, n: number, r: number, p: number): Promise<Buffer> {
  return new Promise((resolve, reject) =>
    scrypt(
      password,
      salt,
      KEY_LENGTH,
      { N: n, r, p, maxmem: 256 * n * r },
      (error, key) => error ? reject(error) : resolve(key),
    )
  );
}

/**
 * Hashes `password` as `scrypt$N$r$p$salt$hash` (base64 salt and hash).
 *
 * @example await store.setAdminPasswordHash(await hashPassword(password));
 */
export async function hashPassword(password: string): Promise<string> {
  const salt = randomBytes(16);
  const key = await derive(password, salt, N, R, P);
  return ["scrypt", N, R, P, salt.toString("base64"), key.toString("base64")].join("$");
}

/**
 * Whether `password` is the one `stored` was made from; false for a malformed `stored`.
 *
 * @example if (await verifyPassword(given, await store.adminPasswordHash() ?? "")) login();
 */
export async function verifyPassword(password: string, stored: string): Promise<boolean> {
  const [scheme, n, r, p, salt, hash] = stored.split("$");
  if (scheme !== "scrypt" || !hash) return false;
  // A damaged stored hash (parameters scrypt refuses) is a wrong password, not a crash.
  const key = await derive(password, Buffer.from(salt!, "base64"), Number(n), Number(r), Number(p))
    .catch(() => null);
  if (!key) return false;
  return timingSafeEqual(new Uint8Array(key), new Uint8Array(Buffer.from(hash, "base64")));
}

/** The shortest admin password `admin passwd` accepts. */
export const MIN_ADMIN_PASSWORD = 8;
