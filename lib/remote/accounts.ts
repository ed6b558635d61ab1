/**
 * The server's live view of the users table: who may connect, their open sessions, and the
 * usage counted since the last flush. Reloaded when the database changes, flushed every second.
 */
import { keyForToken } from "./users_db.ts";
import type { User, UsersDb } from "./users_db.ts";

/** One user as the running server tracks them. */
export class Account {
  user: User;
  /** Bytes counted since the last flush, per direction. */
  unflushedUp = 0;
  unflushedDown = 0;
  /** Aborting a session's controller closes its relay. */
  readonly sessions = new Set<AbortController>();

  constructor(user: User) {
    this.user = user;
  }

  /** Bytes used so far, flushed or not. */
  get used(): number {
    return this.user.bytesUp + this.user.bytesDown + this.unflushedUp + this.unflushedDown;
  }

  /** Why this account may not open a new connection now, or null when it may. */
  refusal(now = Date.now()): string | null {
    const u = this.user;
    if (!u.enabled) return "disabled";
    if (u.expiresAt !== null && now >= u.expiresAt) return "expired";
    if (u.quota > 0 && this.used >= u.quota) return "over quota";
    if (u.maxConns > 0 && this.sessions.size >= u.maxConns) return "too many connections";
    return null;
  }

  /** Why open connections must close now (not counting the connection limit), or null. */
  eviction(now = Date.now()): string | null {
    const reason = this.refusal(now);
    return reason === "too many connections" ? null : reason;
  }

  closeAll(): void {
    for (const session of this.sessions) session.abort();
  }
}

/** All accounts, indexed by the stored key of their wire token. */
export class Accounts {
  readonly #db: UsersDb;
  #byId = new Map<number, Account>();
  #byKey = new Map<string, Account>();
  #version = -1;

  constructor(db: UsersDb) {
    this.#db = db;
    this.reload();
  }

  /** The account whose token this is, if any. */
  find(token: string): Account | undefined {
    return this.#byKey.get(keyForToken(token));
  }

  /**
   * Re-reads the users table if another process changed it. Removed users and changed
   * passwords close their sessions; everyone over a limit is closed too.
   */
  reload(): void {
    const version = this.#db.dataVersion();
    if (version !== this.#version) {
      this.#version = version;
      const byId = new Map<number, Account>();
      for (const user of this.#db.list()) {
        const known = this.#byId.get(user.id);
        if (known && known.user.key !== user.key) known.closeAll();
        const account = known ?? new Account(user);
        account.user = user;
        byId.set(user.id, account);
      }
      for (const [id, account] of this.#byId) if (!byId.has(id)) account.closeAll();
      this.#byId = byId;
      this.#byKey = new Map([...byId.values()].map((a) => [a.user.key, a]));
    }
    this.enforce();
  }

  /** Closes the sessions of accounts that are disabled, expired or over quota. */
  enforce(now = Date.now()): void {
    for (const account of this.#byId.values()) {
      if (account.sessions.size > 0 && account.eviction(now)) account.closeAll();
    }
  }

  /** Writes counted usage and open connection counts in one transaction. */
  flush(): void {
    const deltas = [...this.#byId.values()]
      .filter((a) => a.unflushedUp || a.unflushedDown || a.sessions.size !== a.user.openConns)
      .map((a) => ({
        account: a,
        delta: {
          id: a.user.id,
          up: a.unflushedUp,
          down: a.unflushedDown,
          openConns: a.sessions.size,
        },
      }));
    if (deltas.length === 0) return;
    this.#db.addUsage(deltas.map((d) => d.delta));
    for (const { account, delta } of deltas) {
      account.unflushedUp -= delta.up;
      account.unflushedDown -= delta.down;
      account.user.bytesUp += delta.up;
      account.user.bytesDown += delta.down;
      account.user.openConns = delta.openConns;
    }
  }

  /** Total open sessions across accounts. */
  get openSessions(): number {
    let total = 0;
    for (const account of this.#byId.values()) total += account.sessions.size;
    return total;
  }
}
