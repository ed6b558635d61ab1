/** Test data: reproducible pseudo-random bytes and their hashes. */

/** Hex SHA-256 of bytes. */
export async function sha256(bytes: Uint8Array): Promise<string> {
  const digest = await crypto.subtle.digest("SHA-256", bytes as Uint8Array<ArrayBuffer>);
  return Array.from(new Uint8Array(digest)).map((b) => b.toString(16).padStart(2, "0")).join("");
}

/** Deterministic pseudo-random bytes (fast xorshift), so failures can be reproduced. */
export function randomBytes(length: number, seed = 1): Uint8Array {
  const out = new Uint8Array(length);
  const words = new Uint32Array(out.buffer, 0, length >> 2);
  let x = seed >>> 0 || 1;
  for (let i = 0; i < words.length; i++) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    words[i] = x;
  }
  for (let i = words.length * 4; i < length; i++) out[i] = i & 0xff;
  return out;
}
