/**
 * Who is logged in to the admin panel: random session ids kept in memory (a restart logs
 * everyone out), each with its admin, its own CSRF token and an expiry, ended at once when
 * that admin's stored password changes or the admin is removed; and login attempts throttled per source address with the same guard the
 * tunnel uses, counted before the password is hashed, with few hashes at once.
 */
import { Buffer } from "node:buffer";
import { timingSafeEqual } from "../../common/security/timing_safe.ts";
import { AuthGuard } from "../../common/security/auth_guard.ts";
import { logger } from "../../common/ops/logging.ts";
import { isLoopbackHost } from "../../common/security/loopback.ts";
import type { Clock } from "../ops/usage_sampler.ts";
import { adminAccountOf } from "../store/admin_store.ts";
import type { AdminRecord } from "../store/admin_store.ts";

const log = logger("remote", "admin");

/** One logged-in browser. */
export interface AdminSession {
  /** The admin signed in. */
  admin: string;
  /** Sent back in `X-CSRF-Token` with every change. */
  csrf: string;
  expiresAt: number;
  /** The stored password hash it logged in against: a new password ends it. */
  hash: string;
  /** A TOTP secret offered for enrolment, until it is confirmed with a code. */
  pendingTotp?: string;
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
 * const { id, session } = sessions.create("admin", hash);
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
  /** Each admin's stored password hash, as last seen: sessions made against another are over. */
  #hashes = new Map<string, string>();

  constructor(options: SessionOptions = {}) {
    this.#clock = options.clock ?? Date.now;
    this.ttlMs = options.ttlMs ?? 12 * 3600_000;
    this.#loginLimit = options.loginLimit ?? 5;
    this.guard = new AuthGuard({
      limit: this.#loginLimit,
      coolOffMs: options.coolOffMs ?? 300_000,
    }, { log: logger("remote", "admin") });
  }

  /**
   * Starts a session of `admin` made against its stored `hash`; its id goes only into the
   * cookie.
   */
  create(admin: string, hash: string): { id: string; session: AdminSession } {
    this.#hashes.set(admin, hash);
    this.#prune();
    const id = randomToken();
    const session = { admin, csrf: randomToken(), expiresAt: this.#clock() + this.ttlMs, hash };
    this.#sessions.set(id, session);
    return { id, session };
  }

  /** The live session with this id, or undefined (unknown or expired). */
  find(id: string | undefined): AdminSession | undefined {
    if (!id) return undefined;
    const session = this.#sessions.get(id);
    if (!session) return undefined;
    if (this.#clock() >= session.expiresAt || session.hash !== this.#hashes.get(session.admin)) {
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

  /**
   * The stored admins are `admins` now: every session of an admin removed, or made against
   * another password hash than the admin's, ends.
   */
  adminsAre(admins: Pick<AdminRecord, "name" | "hash">[]): void {
    this.#hashes = new Map(admins.map((a) => [a.name, a.hash]));
    for (const [id, session] of this.#sessions) {
      if (session.hash === this.#hashes.get(session.admin)) continue;
      this.#sessions.delete(id);
      log.info("admin {admin} was removed or given a new password: a session of theirs ended", {
        admin: session.admin,
      });
    }
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
   * Follows the stored admins every `everyMs`: a new password or a removed admin ends the
   * sessions made against the old one (on every node, since each follows the shared store), and
   * a moved stamp (`admin unlock`, or any admin's change) clears the login cool-offs. `ended` runs after
   * sessions may have ended. Returns the function that stops following.
   */
  follow(
    read: () => Promise<AdminRecord[]>,
    ended: () => void,
    everyMs = 1000,
  ): () => void {
    let stamp: number | undefined;
    let reading = false;
    const timer = setInterval(async () => {
      if (reading) return;
      reading = true;
      try {
        const admins = await read();
        this.adminsAre(admins);
        const account = adminAccountOf(admins);
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
