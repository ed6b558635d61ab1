/** Comparing secrets so that the time taken does not tell how much of a guess was right. */

const encoder = new TextEncoder();

/**
 * Whether `a` and `b` hold the same bytes (a string as its UTF-8), in a time that depends on
 * their lengths only, not on where they first differ.
 *
 * @example timingSafeEqual(given.password, expected.password)
 */
export function timingSafeEqual(a: string | Uint8Array, b: string | Uint8Array): boolean {
  const x = typeof a === "string" ? encoder.encode(a) : a;
  const y = typeof b === "string" ? encoder.encode(b) : b;
  let diff = x.length ^ y.length;
  for (let i = 0; i < Math.max(x.length, y.length); i++) diff |= (x[i] ?? 0) ^ (y[i] ?? 0);
  return diff === 0;
}
