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

/** The fewest characters a password chosen by an admin may have. */
export const MIN_PASSWORD_LENGTH = 8;

/**
 * What is wrong with a chosen password, or null when it will do: fewer than
 * {@linkcode MIN_PASSWORD_LENGTH} characters (an empty one included) is refused.
 *
 * @example passwordProblem("abc") // "expected at least 8 characters, got 3 (…)"
 */
export function passwordProblem(password: string): string | null {
  const length = [...password].length;
  if (length >= MIN_PASSWORD_LENGTH) return null;
  return `expected at least ${MIN_PASSWORD_LENGTH} characters, got ${length} ` +
    "(better: give none, and a strong one is generated and shown once)";
}
