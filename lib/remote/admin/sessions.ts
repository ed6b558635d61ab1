/**
 * Who is logged in to the admin panel: random session ids kept in memory (a restart logs
 * everyone out), each with its own CSRF token and an expiry, ended at once when the stored
 * password changes; and login attempts throttled per source address with the same guard the
 * tunnel uses, counted before the password is hashed, with few hashes at once.
 */
import { Buffer } from "node:buffer";
import { timingSafeEqual } from "../../common/security/timing_safe.ts";
import { AuthGuard } from "../../common/security/auth_guard.ts";
import { logger } from "../../common/ops/logging.ts";
import { isLoopbackHost } from "../../common/security/loopback.ts";
import type { Clock } from "../ops/usage_sampler.ts";
import type { AdminAccount } from "../store/user_store.ts";

const log = logger("remote", "admin");

/** One logged-in browser. */
export interface AdminSession {
  /** Sent back in `X-CSRF-Token` with every change. */
  csrf: string;
  expiresAt: number;
  /** The stored password hash it logged in against: a new password ends it. */
  hash: string;
}

/** What a login attempt came to. */
export type LoginOutcome = "ok" | "wrong" | "throttled" | "busy";

/** Most password hashes computed at once (scrypt takes 32 MiB each). */
export const HASHES_AT_ONCE = 2;
/** Most logins waiting for a hash; more are refused as busy. */
export const HASH_QUEUE = 8;

/**
 * The unit logins are throttled in: an address, but all of loopback as one, since any local
 * program can pick any 127.x.y.z and the admin's `ssh -L` arrives from loopback too.
 */
export function loginSource(address: string): string {
  return isLoopbackHost(address) ? "loopback" : address;
}

/** How long a session lasts, and how logins are throttled. */
export interface SessionOptions {
  ttlMs?: number;
  /** Failed logins allowed per source a minute before it cools off (default 5). */
  loginLimit?: number;
  /** How long a source past the limit is refused (default 5 min). */
  coolOffMs?: number;
  clock?: Clock;
}

function randomToken(): string {
  return Buffer.from(crypto.getRandomValues(new Uint8Array(32))).toString("base64url");
}

/**
 * The panel's sessions and login guard.
 *
 * @example
 * const sessions = new AdminSessions({ ttlMs: 12 * 3600_000 });
 * const { id, session } = sessions.create();
 * sessions.find(id)?.csrf;
 */
export class AdminSessions {
  readonly #sessions = new Map<string, AdminSession>();
  readonly #clock: Clock;
  readonly ttlMs: number;
  /** Failed logins per source (see {@linkcode loginSource}). */
  readonly guard: AuthGuard;
  readonly #loginLimit: number;
  /** Logins being checked per source: counted with its failures before any hash. */
  readonly #checking = new Map<string, number>();
  #hashing = 0;
  readonly #queue: (() => void)[] = [];
  /** The stored password hash, as last seen: sessions made against another one are over. */
  #hash: string | undefined;

  constructor(options: SessionOptions = {}) {
    this.#clock = options.clock ?? Date.now;
    this.ttlMs = options.ttlMs ?? 12 * 3600_000;
    this.#loginLimit = options.loginLimit ?? 5;
    this.guard = new AuthGuard({
      limit: this.#loginLimit,
      coolOffMs: options.coolOffMs ?? 300_000,
    }, { log: logger("remote", "admin") });
  }

  /** Starts a session made against the stored `hash`; its id goes only into the cookie. */
  create(hash: string): { id: string; session: AdminSession } {
    this.passwordIs(hash);
    this.#prune();
    const id = randomToken();
    const session = { csrf: randomToken(), expiresAt: this.#clock() + this.ttlMs, hash };
    this.#sessions.set(id, session);
    return { id, session };
  }

  /** The live session with this id, or undefined (unknown or expired). */
  find(id: string | undefined): AdminSession | undefined {
    if (!id) return undefined;
    const session = this.#sessions.get(id);
    if (!session) return undefined;
    if (this.#clock() >= session.expiresAt || session.hash !== this.#hash) {
      this.#sessions.delete(id);
      return undefined;
    }
    return session;
  }

  /** Whether `given` is the session's CSRF token. */
  csrfMatches(session: AdminSession, given: string | null): boolean {
    return given !== null && timingSafeEqual(given, session.csrf);
  }

  /** Ends a session (logout). */
  end(id: string | undefined): void {
    if (id) this.#sessions.delete(id);
  }

  /** Ends every session (the admin password changed). */
  endAll(): void {
    this.#sessions.clear();
  }

  /** The stored password hash is `hash` now: every session made against another ends. */
  passwordIs(hash: string | undefined): void {
    if (hash === this.#hash) return;
    this.#hash = hash;
    if (this.#sessions.size === 0) return;
    this.endAll();
    log.info("the admin password changed: every admin session ended");
  }

  /**
   * Checks a login from `address` with `verify` (the hash), if the source may try: its failures
   * and the logins of it being checked are counted before the hash, so simultaneous guesses
   * are refused as sequential ones are; and at most {@linkcode HASHES_AT_ONCE} hashes run,
   * {@linkcode HASH_QUEUE} wait, more are "busy".
   */
  async checkLogin(address: string, verify: () => Promise<boolean>): Promise<LoginOutcome> {
    const source = loginSource(address);
    const checking = this.#checking.get(source) ?? 0;
    if (this.guard.isBlocked(source)) return "throttled";
    if (this.#loginLimit > 0 && this.guard.failures(source) + checking > this.#loginLimit) {
      return "throttled";
    }
    if (this.#hashing >= HASHES_AT_ONCE && this.#queue.length >= HASH_QUEUE) return "busy";
    this.#checking.set(source, checking + 1);
    try {
      if (this.#hashing < HASHES_AT_ONCE) this.#hashing++;
      else await new Promise<void>((resolve) => this.#queue.push(resolve));
      let right: boolean;
      try {
        right = await verify();
      } finally {
        // The slot goes to the next in line, or is freed.
        const next = this.#queue.shift();
        if (next) next();
        else this.#hashing--;
      }
      if (!right) this.guard.fail(source);
      return right ? "ok" : "wrong";
    } finally {
      const left = this.#checking.get(source)! - 1;
      if (left > 0) this.#checking.set(source, left);
      else this.#checking.delete(source);
    }
  }

  /**
   * Follows the stored admin account every `everyMs`: a new password ends every session made
   * against the old one (on every node, since each follows the shared store), and a moved
   * stamp (`admin unlock`, or a new password) clears the login cool-offs. `ended` runs after
   * sessions may have ended. Returns the function that stops following.
   */
  follow(
    read: () => Promise<AdminAccount | undefined>,
    ended: () => void,
    everyMs = 1000,
  ): () => void {
    let stamp: number | undefined;
    let reading = false;
    const timer = setInterval(async () => {
      if (reading) return;
      reading = true;
      try {
        const account = await read();
        this.passwordIs(account?.hash);
        if (stamp !== undefined && account && account.stamp !== stamp && this.guard.size > 0) {
          this.guard.clear();
          log.info("the admin account was unlocked or changed: login cool-offs cleared");
        }
        stamp = account?.stamp;
        ended();
      } catch {
        // The store does not answer: sessions stay as they are until it does.
      } finally {
        reading = false;
      }
    }, everyMs);
    Deno.unrefTimer(timer);
    return () => clearInterval(timer);
  }

  #prune(): void {
    const now = this.#clock();
    for (const [id, session] of this.#sessions) {
      if (now >= session.expiresAt) this.#sessions.delete(id);
    }
  }
}
