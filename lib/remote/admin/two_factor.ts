/**
 * Two-factor sign-in for the panel: TOTP (RFC 6238: SHA-1, 6 digits, 30 s, as every
 * authenticator app reads it) through `otpauth`, and ten one-time recovery codes stored as
 * SHA-256 hashes. A code is accepted one step either side of now (clocks drift), and never
 * twice: each admin's last accepted step is remembered.
 */
import * as OTPAuth from "otpauth";
import { keyForToken } from "../store/user_store.ts";

/** How many recovery codes an enrolment hands out. */
export const RECOVERY_CODES = 10;

/** The issuer authenticator apps show beside the admin's name. */
const ISSUER = "SwiftProxy";

function totp(secret: string, admin = ""): OTPAuth.TOTP {
  return new OTPAuth.TOTP({
    issuer: ISSUER,
    label: admin,
    secret: OTPAuth.Secret.fromBase32(secret),
  });
}

/**
 * A new random TOTP secret (160 bits, base32) and its `otpauth://` URI for a QR code.
 *
 * @example const { secret, uri } = newTotp("ann");
 */
export function newTotp(admin: string): { secret: string; uri: string } {
  const secret = new OTPAuth.Secret({ size: 20 }).base32;
  return { secret, uri: totp(secret, admin).toString() };
}

/**
 * Ten new recovery codes (80 random bits each, `xxxx-xxxx-xxxx-xxxx` in base32) and the hashes
 * the store keeps.
 */
export function newRecoveryCodes(): { codes: string[]; hashes: string[] } {
  const codes = Array.from(
    { length: RECOVERY_CODES },
    () => new OTPAuth.Secret({ size: 10 }).base32.toLowerCase().match(/.{4}/g)!.join("-"),
  );
  return { codes, hashes: codes.map(recoveryHash) };
}

/** The stored form of a recovery code, spaces, dashes and case aside. */
export function recoveryHash(code: string): string {
  return keyForToken(code.toLowerCase().replace(/[\s-]/g, ""));
}

/** Whether `code` looks like a TOTP code (six digits) rather than a recovery code. */
export function isTotpCode(code: string): boolean {
  return /^\d{6}$/.test(code.replace(/\s/g, ""));
}

/**
 * Each admin's last accepted TOTP step, so a code seen by someone else (over a shoulder, in a
 * recording) cannot be used again within its 90 seconds.
 */
export class TotpSteps {
  readonly #last = new Map<string, number>();

  /**
   * Whether `code` is the admin's current code (one step either side), not used before.
   *
   * @example if (steps.accept("ann", secret, "123456")) signIn();
   */
  accept(admin: string, secret: string, code: string, now = Date.now()): boolean {
    const token = code.replace(/\s/g, "");
    const delta = totp(secret).validate({ token, window: 1, timestamp: now });
    if (delta === null) return false;
    const step = Math.floor(now / 30_000) + delta;
    if (step <= (this.#last.get(admin) ?? -1)) return false;
    this.#last.set(admin, step);
    return true;
  }
}
