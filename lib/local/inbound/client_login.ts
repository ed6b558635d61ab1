/**
 * The login the local asks of its own clients when shared on a LAN (`--socks-user` and
 * `--socks-pass`): RFC 1929 for SOCKS5, `Proxy-Authorization: Basic` for HTTP, one counter of
 * failed guesses per source for both.
 */
import { AuthGuard } from "../../common/security/auth_guard.ts";
import type { AuthGuardOptions } from "../../common/security/auth_guard.ts";
import { logger } from "../../common/ops/logging.ts";
import { timingSafeEqual } from "../../common/security/timing_safe.ts";
import type { Credentials } from "../../protocol/socks5.ts";

/** Checks one client's login: whether `username` and `password` may pass. */
export type LoginCheck = (username: string | Uint8Array, password: string | Uint8Array) => boolean;

/** The same limits as the remote's tunnel logins: 20 failures a minute, then 10 minutes off. */
export const CLIENT_LOGIN_GUARD: Readonly<AuthGuardOptions> = { limit: 20, coolOffMs: 600_000 };

/**
 * Checks client logins against the expected credentials. A source past the guard's limit is
 * refused exactly like a wrong password, so guessing on tells the guesser nothing; the guard
 * logs once per cooling-off period.
 *
 * @example
 * const login = new ClientLogin({ username: "lan", password: "a long random one" });
 * if (!login.accepts(ip, given.username, given.password)) refuse();
 */
export class ClientLogin {
  readonly #expected: Credentials;
  readonly #guard: AuthGuard;

  constructor(expected: Credentials, guard: AuthGuardOptions = CLIENT_LOGIN_GUARD) {
    this.#expected = expected;
    this.#guard = new AuthGuard(guard, { log: logger("local", "guard") });
  }

  /** Whether `username` and `password` from `ip` may pass; counts a failure when not. */
  accepts(ip: string, username: string | Uint8Array, password: string | Uint8Array): boolean {
    // Both compared whatever the outcome, each in constant time, so the time tells nothing.
    const user = timingSafeEqual(username, this.#expected.username);
    const pass = timingSafeEqual(password, this.#expected.password);
    const ok = user && pass && !this.#guard.isBlocked(ip);
    if (!ok) this.#guard.fail(ip);
    return ok;
  }

  /** The check for clients from `ip`, for a session to call without knowing the guard. */
  from(ip: string): LoginCheck {
    return (username, password) => this.accepts(ip, username, password);
  }
}
