/**
 * Who is logged in to the admin panel: random session ids kept in memory (a restart logs
 * everyone out), each with its own CSRF token and an expiry, and login attempts throttled
 * per source address with the same guard the tunnel uses.
 */
import { Buffer } from "node:buffer";
import { timingSafeEqual } from "../../common/security/timing_safe.ts";
import { AuthGuard } from "../../common/security/auth_guard.ts";
import { logger } from "../../common/ops/logging.ts";
import type { Clock } from "../ops/usage_sampler.ts";

/** One logged-in browser. */
export interface AdminSession {
  /** Sent back in `X-CSRF-Token` with every change. */
  csrf: string;
  expiresAt: number;
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
  /** Failed logins per source. */
  readonly guard: AuthGuard;

  constructor(options: SessionOptions = {}) {
    this.#clock = options.clock ?? Date.now;
    this.ttlMs = options.ttlMs ?? 12 * 3600_000;
    this.guard = new AuthGuard({
      limit: options.loginLimit ?? 5,
      coolOffMs: options.coolOffMs ?? 300_000,
    }, { log: logger("remote", "admin") });
  }

  /** Starts a session; its id goes only into the cookie. */
  create(): { id: string; session: AdminSession } {
    this.#prune();
    const id = randomToken();
    const session = { csrf: randomToken(), expiresAt: this.#clock() + this.ttlMs };
    this.#sessions.set(id, session);
    return { id, session };
  }

  /** The live session with this id, or undefined (unknown or expired). */
  find(id: string | undefined): AdminSession | undefined {
    if (!id) return undefined;
    const session = this.#sessions.get(id);
    if (!session) return undefined;
    if (this.#clock() >= session.expiresAt) {
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

  #prune(): void {
    const now = this.#clock();
    for (const [id, session] of this.#sessions) {
      if (now >= session.expiresAt) this.#sessions.delete(id);
    }
  }
}
