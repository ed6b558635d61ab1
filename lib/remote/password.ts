/** Generated passwords for new users. */

const ALPHABET = "ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz23456789";

/**
 * A random password of `length` characters from an unambiguous alphabet
 * (24 characters ≈ 140 bits).
 */
export function generatePassword(length = 24): string {
  const out: string[] = [];
  while (out.length < length) {
    for (const byte of crypto.getRandomValues(new Uint8Array(length * 2))) {
      // Rejection sampling keeps every character equally likely.
      if (byte < 256 - (256 % ALPHABET.length) && out.length < length) {
        out.push(ALPHABET[byte % ALPHABET.length]);
      }
    }
  }
  return out.join("");
}
