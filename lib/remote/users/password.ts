/** Generated passwords for new users, and the check of chosen ones. */
import { shortPassword } from "../../common/security/password_floor.ts";

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
        out.push(ALPHABET[byte % ALPHABET.length]!);
      }
    }
  }
  return out.join("");
}

/**
 * What is wrong with a password an admin chose, or null when it will do: shorter than the
 * floor every SwiftProxy login has (lib/common/security/password_floor.ts), with a better way out.
 *
 * @example passwordProblem("abc") // "expected at least 8 characters, got 3 (better: …)"
 */
export function passwordProblem(password: string): string | null {
  const short = shortPassword(password);
  return short && `${short} (better: give none, and a strong one is generated and shown once)`;
}
