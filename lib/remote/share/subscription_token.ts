/**
 * Subscription tokens: random per user, stored only as a SHA-256, and the user's password
 * stored sealed with a key derived from the token (AES-GCM). The database alone gives neither
 * a working token nor a password; the token in a request unlocks exactly its own user's link.
 * A new password needs a new token (the old one cannot be recovered to reseal it).
 */
import { createHash } from "node:crypto";
import type { UserStore } from "../store/user_store.ts";

const INFO = new TextEncoder().encode("swiftproxy subscription password");

/** 32 random bytes, base64url: 43 characters. */
const TOKEN = /^[A-Za-z0-9_-]{43}$/;

/** What comes before a token in a subscription URL's path. */
export const SUBSCRIPTION_PATH = "/sub/";

/** Whether `text` has the form of a token (43 base64url characters). */
export function isTokenShaped(text: string): boolean {
  return TOKEN.test(text);
}

/** The stored key of a subscription token: its hex SHA-256. */
export function subscriptionKey(token: string): string {
  return createHash("sha256").update(token).digest("hex");
}

async function sealingKey(token: string): Promise<CryptoKey> {
  const raw = await crypto.subtle.importKey(
    "raw",
    new TextEncoder().encode(token),
    "HKDF",
    false,
    ["deriveKey"],
  );
  return await crypto.subtle.deriveKey(
    { name: "HKDF", hash: "SHA-256", salt: new Uint8Array(0), info: INFO },
    raw,
    { name: "AES-GCM", length: 256 },
    false,
    ["encrypt", "decrypt"],
  );
}

function base64url(bytes: Uint8Array): string {
  return btoa(String.fromCharCode(...bytes)).replaceAll("+", "-").replaceAll("/", "_")
    .replace(/=+$/, "");
}

/** `text` sealed with `key` (AES-GCM): base64 of the IV and the ciphertext. */
export async function sealText(key: CryptoKey, text: string): Promise<string> {
  const iv = crypto.getRandomValues(new Uint8Array(12));
  const sealed = new Uint8Array(
    await crypto.subtle.encrypt({ name: "AES-GCM", iv }, key, new TextEncoder().encode(text)),
  );
  const out = new Uint8Array(iv.length + sealed.length);
  out.set(iv);
  out.set(sealed, iv.length);
  return btoa(String.fromCharCode(...out));
}

/**
 * The password sealed with `token`, or null when the token does not open it (never
 * throws for a wrong token or damaged text).
 *
 * @example const password = await unsealPassword(token, found.sealedPassword);
 */
export async function unsealPassword(token: string, sealed: string): Promise<string | null> {
  return await unsealText(await sealingKey(token), sealed);
}

/** The text {@linkcode sealText} sealed with `key`, or null when `key` does not open it. */
export async function unsealText(key: CryptoKey, sealed: string): Promise<string | null> {
  try {
    const bytes = Uint8Array.from(atob(sealed), (c) => c.charCodeAt(0));
    const plain = await crypto.subtle.decrypt(
      { name: "AES-GCM", iv: bytes.subarray(0, 12) },
      key,
      bytes.subarray(12),
    );
    return new TextDecoder().decode(plain);
  } catch {
    return null;
  }
}

/**
 * Issues user `name` a new subscription token for `password` (its current one), revoking the
 * old token; returns the token, which exists nowhere else: show it once.
 *
 * @throws {UserError} for an unknown name
 * @example const token = await issueSubscription(store, "ann", password);
 */
export async function issueSubscription(
  store: UserStore,
  name: string,
  password: string,
): Promise<string> {
  const token = base64url(crypto.getRandomValues(new Uint8Array(32)));
  await store.setSubscription(name, {
    key: subscriptionKey(token),
    sealedPassword: await sealText(await sealingKey(token), password),
  });
  return token;
}
