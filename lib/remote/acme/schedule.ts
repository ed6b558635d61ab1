/**
 * When to renew and when to retry: pure arithmetic over times, so it is tested without
 * waiting. Renewal at two thirds of the lifetime (as certbot and Caddy do, which leaves a
 * 90-day certificate 30 days of retries), moved by up to 1/30 of the lifetime either way so
 * that many servers issued at once do not renew at once.
 */

/** The validity of a certificate, in milliseconds since the epoch. */
export interface Validity {
  notBefore: number;
  notAfter: number;
}

/**
 * The time to renew a certificate valid over `validity`: two thirds through it, plus a jitter
 * of ±1/30 of the lifetime drawn from `random` (0..1).
 *
 * @example renewalTime({ notBefore: 0, notAfter: 90 * DAY }) // about day 60
 */
export function renewalTime(validity: Validity, random: () => number = Math.random): number {
  const lifetime = Math.max(0, validity.notAfter - validity.notBefore);
  const jitter = (random() * 2 - 1) * lifetime / 30;
  return validity.notBefore + lifetime * 2 / 3 + jitter;
}

/** The shortest wait after a failed issuance. */
export const RETRY_MIN_MS = 60_000;
/** The longest wait between failed issuances (Let's Encrypt allows 5 failures an hour). */
export const RETRY_MAX_MS = 6 * 60 * 60_000;

/**
 * How long to wait after the `failures`-th failure in a row (1, 2, …): doubling from
 * `minMs` up to `maxMs`, with up to a tenth more drawn from `random`.
 *
 * @example retryDelay(1) // 1 min … 1.1 min; retryDelay(3) // 4 min …
 */
export function retryDelay(
  failures: number,
  { minMs = RETRY_MIN_MS, maxMs = RETRY_MAX_MS, random = Math.random } = {},
): number {
  const base = Math.min(maxMs, minMs * 2 ** Math.max(0, failures - 1));
  return base + random() * base / 10;
}
