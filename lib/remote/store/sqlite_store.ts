/**
 * The users store in SQLite through `node:sqlite`, WAL mode, so the `user` commands and a
 * running server share one file. Only a hash of each wire token is stored.
 */
import { DatabaseSync } from "node:sqlite";
import {
  bySourceUser,
  caseTwinRefusal,
  checkTemplate,
  checkUserName,
  HISTORY_BUCKET_MS,
  HISTORY_RETENTION_MS,
  keyForCredential,
  limitColumns,
  mergedTemplate,
  migrated,
  newUserColumns,
  SchemaVersionError,
  SOURCES_KEPT_MS,
  UsageRefusedError,
  UserError,
  userFromRow,
} from "./user_store.ts";
import type {
  AdminAccount,
  SeenSource,
  StoredSubscription,
  Template,
  UsageBatch,
  UsageDelta,
  UsagePoint,
  UsageResolution,
  UsageSample,
  User,
  UserLimits,
  UserStore,
} from "./user_store.ts";
import {
  adminAccountOf,
  adminColumns,
  adminFromRow,
  AUDIT_RETENTION_MS,
  auditFromRow,
  DEFAULT_ADMIN,
  firstAdmin,
  tokenFromRow,
} from "./admin_store.ts";
import type {
  AdminChange,
  AdminRecord,
  AuditEntry,
  AuditQuery,
  TokenRecord,
} from "./admin_store.ts";

const MIGRATIONS: string[] = [
  `CREATE TABLE users (
    id INTEGER PRIMARY KEY,
    name TEXT NOT NULL UNIQUE,
    key TEXT NOT NULL UNIQUE,
    up_limit INTEGER NOT NULL DEFAULT 0,
    down_limit INTEGER NOT NULL DEFAULT 0,
    quota INTEGER NOT NULL DEFAULT 0,
    max_conns INTEGER NOT NULL DEFAULT 0,
    enabled INTEGER NOT NULL DEFAULT 1,
    expires_at INTEGER,
    bytes_up INTEGER NOT NULL DEFAULT 0,
    bytes_down INTEGER NOT NULL DEFAULT 0,
    open_conns INTEGER NOT NULL DEFAULT 0,
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL
  )`,
  // The admin's side: monthly resets, usage history, alerts sent, the admin account.
  `ALTER TABLE users ADD COLUMN reset_day INTEGER NOT NULL DEFAULT 0;
  ALTER TABLE users ADD COLUMN last_reset_at INTEGER;
  CREATE TABLE usage_history (
    user_id INTEGER NOT NULL,
    resolution TEXT NOT NULL,
    at INTEGER NOT NULL,
    up INTEGER NOT NULL DEFAULT 0,
    down INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (user_id, resolution, at)
  ) WITHOUT ROWID;
  CREATE TABLE alerts_sent (
    user_id INTEGER NOT NULL,
    alert TEXT NOT NULL,
    period TEXT NOT NULL,
    PRIMARY KEY (user_id, alert)
  ) WITHOUT ROWID;
  CREATE TABLE admin (
    id INTEGER PRIMARY KEY CHECK (id = 1),
    password_hash TEXT NOT NULL,
    updated_at INTEGER NOT NULL
  )`,
  // Subscriptions: the token's hash, and the password sealed with the token.
  `ALTER TABLE users ADD COLUMN sub_key TEXT;
  ALTER TABLE users ADD COLUMN sub_sealed TEXT;
  CREATE UNIQUE INDEX users_sub_key ON users (sub_key)`,
  // Many nodes: the last usage batch applied per node, so a retried one counts once.
  `CREATE TABLE usage_batches (node TEXT PRIMARY KEY, seq INTEGER NOT NULL)`,
  // Each user's destination block list, as its text (`user set NAME --block FILE`).
  `ALTER TABLE users ADD COLUMN block_list TEXT`,
  // Several admins (the one admin becomes "admin"), each with its TOTP secret and hashed
  // recovery codes; API tokens (hashes only); the audit log.
  `CREATE TABLE admins (
    name TEXT PRIMARY KEY,
    password_hash TEXT NOT NULL,
    totp_secret TEXT,
    recovery TEXT NOT NULL DEFAULT '[]',
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL
  );
  INSERT INTO admins (name, password_hash, created_at, updated_at)
    SELECT '${DEFAULT_ADMIN}', password_hash, updated_at, updated_at FROM admin;
  DROP TABLE admin;
  CREATE TABLE admin_tokens (
    name TEXT PRIMARY KEY,
    key TEXT NOT NULL UNIQUE,
    read_only INTEGER NOT NULL,
    created_at INTEGER NOT NULL,
    last_used_at INTEGER
  );
  CREATE TABLE audit_log (
    id INTEGER PRIMARY KEY,
    at INTEGER NOT NULL,
    actor TEXT NOT NULL,
    source TEXT NOT NULL,
    action TEXT NOT NULL,
    target TEXT NOT NULL,
    before TEXT,
    after TEXT
  );
  CREATE INDEX audit_log_at ON audit_log (at)`,
  // The operator's controls: device limits and the addresses seen, expiry from the first login,
  // reset periods, groups, templates.
  `ALTER TABLE users ADD COLUMN max_ips INTEGER NOT NULL DEFAULT 0;
  ALTER TABLE users ADD COLUMN expires_after INTEGER;
  ALTER TABLE users ADD COLUMN reset_period TEXT;
  ALTER TABLE users ADD COLUMN group_name TEXT;
  CREATE INDEX users_group ON users (group_name);
  CREATE TABLE user_sources (
    user_id INTEGER NOT NULL,
    source TEXT NOT NULL,
    at INTEGER NOT NULL,
    PRIMARY KEY (user_id, source)
  ) WITHOUT ROWID;
  CREATE TABLE templates (
    name TEXT PRIMARY KEY,
    settings TEXT NOT NULL,
    updated_at INTEGER NOT NULL
  )`,
];

/**
 * How long one attempt at the write lock may block the thread. node:sqlite is synchronous, so
 * SQLite's own busy wait stops the whole event loop (every relay of a running server) while
 * another process holds the lock; waits longer than this happen between attempts, off the loop.
 */
const BUSY_TIMEOUT_MS = 20;
/** How long a transaction keeps trying for the write lock before it gives up. */
const BUSY_GIVE_UP_MS = 10_000;

function isBusy(error: unknown): boolean {
  return /database is (locked|busy)|SQLITE_BUSY/i.test(String((error as Error)?.message));
}

type Row = Record<string, number | string | null>;

/**
 * Opens the SQLite users store at `path` (`":memory:"` for one that lives in this process) and
 * brings its schema up to date.
 *
 * @throws {SchemaVersionError} when the file is newer than this program
 * @example const store = await openSqliteStore(dataPaths(dir).db);
 */
export function openSqliteStore(path: string): Promise<SqliteStore> {
  return migrated(new SqliteStore(path));
}

/** A {@linkcode UserStore} in one SQLite file; the calls run synchronously underneath. */
export class SqliteStore implements UserStore {
  readonly #db: DatabaseSync;
  /** Changes to users committed through this connection, which `data_version` leaves out. */
  #ownChanges = 0;

  /**
   * Opens (and creates) the database at `path`, without migrating it: see
   * {@linkcode openSqliteStore}.
   *
   * @throws {Error} when the file cannot be opened
   */
  constructor(path: string) {
    this.#db = new DatabaseSync(path);
    this.#db.exec(`PRAGMA busy_timeout = ${BUSY_TIMEOUT_MS}`);
    this.#db.exec("PRAGMA journal_mode = WAL");
    this.#db.exec("PRAGMA synchronous = NORMAL");
  }

  async migrate(): Promise<void> {
    const version = this.#version();
    if (version > MIGRATIONS.length) throw new SchemaVersionError(version, MIGRATIONS.length);
    for (let v = version; v < MIGRATIONS.length; v++) {
      await this.#transaction(() => {
        this.#db.exec(MIGRATIONS[v]!);
        this.#db.exec(`PRAGMA user_version = ${v + 1}`);
      });
    }
  }

  schemaVersion(): Promise<number> {
    return run(() => this.#version());
  }

  #version(): number {
    return (this.#db.prepare("PRAGMA user_version").get() as { user_version: number })
      .user_version;
  }

  /**
   * Runs `work` in one immediate transaction (taking the write lock up front, so it never has
   * to upgrade a read lock, which SQLite cannot wait for). While another process holds the
   * lock, tries again after growing pauses, for up to {@linkcode BUSY_GIVE_UP_MS}; from BEGIN
   * to COMMIT everything is synchronous, so two callers never interleave inside one.
   */
  async #transaction<T>(work: () => T): Promise<T> {
    const giveUp = Date.now() + BUSY_GIVE_UP_MS;
    for (let pause = 5;; pause = Math.min(pause * 2, 250)) {
      try {
        this.#db.exec("BEGIN IMMEDIATE");
        break;
      } catch (error) {
        if (!isBusy(error) || Date.now() >= giveUp) throw error;
      }
      await new Promise((resolve) => setTimeout(resolve, pause));
    }
    try {
      const result = work();
      this.#db.exec("COMMIT");
      return result;
    } catch (error) {
      this.#db.exec("ROLLBACK");
      throw error;
    }
  }

  /**
   * `PRAGMA data_version` (which moves when another connection commits) and the count of
   * this connection's own changes to users: a server and an admin sharing one connection (an
   * in-memory store, a panel in the serve process) see each other's changes too.
   */
  changeVersion(): Promise<string> {
    return run(() => {
      const { data_version } = this.#db.prepare("PRAGMA data_version").get() as {
        data_version: number;
      };
      return `${data_version}.${this.#ownChanges}`;
    });
  }

  list(): Promise<User[]> {
    return run(() =>
      (this.#db.prepare("SELECT * FROM users ORDER BY name").all() as Row[]).map(userFromRow)
    );
  }

  get(name: string): Promise<User | undefined> {
    return run(() => this.#get(name));
  }

  findByKey(key: string): Promise<User | undefined> {
    return run(() => {
      const row = this.#db.prepare("SELECT * FROM users WHERE key = ?").get(key) as
        | Row
        | undefined;
      return row && userFromRow(row);
    });
  }

  #get(name: string): User | undefined {
    const row = this.#db.prepare("SELECT * FROM users WHERE name = ?").get(name) as
      | Row
      | undefined;
    return row && userFromRow(row);
  }

  add(name: string, password: string, limits: UserLimits = {}): Promise<User> {
    return run(() => {
      checkUserName(name);
      const columns = {
        key: keyForCredential(name, password),
        ...newUserColumns(limits, Date.now()),
      };
      return this.#transaction(() => {
        if (this.#get(name)) throw new UserError(`user "${name}" already exists`);
        const twin = this.#db.prepare("SELECT name FROM users WHERE lower(name) = lower(?)")
          .get(name) as { name: string } | undefined;
        if (twin) throw caseTwinRefusal(name, twin.name);
        const names = Object.keys(columns);
        this.#db.prepare(
          `INSERT INTO users (name, ${names.join(", ")}) VALUES (?${", ?".repeat(names.length)})`,
        ).run(name, ...Object.values(columns));
        this.#ownChanges++;
        return this.#get(name)!;
      });
    });
  }

  setLimits(name: string, limits: UserLimits): Promise<User> {
    return run(() => {
      const columns = limitColumns(limits);
      // A reset day counts from now, as for a new user, unless the user was reset before.
      if ((limits.resetDay || limits.resetPeriod) && this.#get(name)?.lastResetAt === undefined) {
        columns.push(["last_reset_at", Date.now()]);
      }
      return this.#update(name, columns);
    });
  }

  setPassword(name: string, password: string): Promise<User> {
    return this.#update(name, [["key", keyForCredential(name, password)]]);
  }

  setEnabled(name: string, enabled: boolean): Promise<User> {
    return this.#update(name, [["enabled", enabled ? 1 : 0]]);
  }

  resetUsage(name: string, at = Date.now()): Promise<User> {
    return this.#update(name, [["bytes_up", 0], ["bytes_down", 0], ["last_reset_at", at]]);
  }

  resetUsageForPeriod(name: string, periodStart: number, at: number): Promise<boolean> {
    return run(() =>
      this.#transaction(() => {
        const result = this.#db.prepare(
          `UPDATE users SET bytes_up = 0, bytes_down = 0, last_reset_at = ?, updated_at = ?
           WHERE name = ? AND (last_reset_at IS NULL OR last_reset_at < ?)`,
        ).run(at, Date.now(), name, periodStart);
        if (result.changes === 0 && !this.#get(name)) {
          throw new UserError(`no user named "${name}"`);
        }
        if (result.changes > 0) this.#ownChanges++;
        return result.changes > 0;
      })
    );
  }

  addUsageHistory(samples: UsageSample[], at: number): Promise<void> {
    return run(() => {
      const add = this.#db.prepare(
        `INSERT INTO usage_history (user_id, resolution, at, up, down) VALUES (?, ?, ?, ?, ?)
         ON CONFLICT (user_id, resolution, at) DO UPDATE
         SET up = up + excluded.up, down = down + excluded.down`,
      );
      const prune = this.#db.prepare("DELETE FROM usage_history WHERE resolution = ? AND at < ?");
      return this.#transaction(() => {
        for (const resolution of ["minute", "day"] as const) {
          const bucket = at - at % HISTORY_BUCKET_MS[resolution];
          for (const s of samples) {
            if (s.up || s.down) add.run(s.userId, resolution, bucket, s.up, s.down);
          }
          prune.run(resolution, at - HISTORY_RETENTION_MS[resolution]);
        }
      });
    });
  }

  usageHistory(userId: number, resolution: UsageResolution, since: number): Promise<UsagePoint[]> {
    return run(() =>
      this.#db.prepare(
        `SELECT at, up, down FROM usage_history
         WHERE user_id = ? AND resolution = ? AND at >= ? ORDER BY at`,
      ).all(userId, resolution, since - since % HISTORY_BUCKET_MS[resolution]).map((row) => ({
        at: row.at as number,
        up: row.up as number,
        down: row.down as number,
      }))
    );
  }

  markAlert(userId: number, alert: string, period: string): Promise<boolean> {
    return run(() =>
      this.#transaction(() =>
        this.#db.prepare(
          `INSERT INTO alerts_sent (user_id, alert, period) VALUES (?, ?, ?)
           ON CONFLICT (user_id, alert) DO UPDATE SET period = excluded.period
           WHERE period != excluded.period`,
        ).run(userId, alert, period).changes > 0
      )
    );
  }

  setSubscription(name: string, subscription: StoredSubscription | null): Promise<void> {
    return this.#update(name, [
      ["sub_key", subscription?.key ?? null],
      ["sub_sealed", subscription?.sealedPassword ?? null],
    ]).then(() => {});
  }

  findBySubscriptionKey(
    key: string,
  ): Promise<{ user: User; sealedPassword: string } | undefined> {
    return run(() => {
      const row = this.#db.prepare("SELECT * FROM users WHERE sub_key = ?").get(key) as
        | Row
        | undefined;
      return row && { user: userFromRow(row), sealedPassword: row.sub_sealed as string };
    });
  }

  adminPasswordHash(): Promise<string | undefined> {
    return this.admins().then((all) => firstAdmin(all)?.hash);
  }

  setAdminPasswordHash(hash: string): Promise<void> {
    return this.putAdmin(DEFAULT_ADMIN, { hash });
  }

  adminAccount(): Promise<AdminAccount | undefined> {
    return this.admins().then(adminAccountOf);
  }

  unlockAdmin(): Promise<boolean> {
    return run(() =>
      this.#transaction(() =>
        this.#db.prepare("UPDATE admins SET updated_at = max(?, updated_at + 1)")
          .run(Date.now()).changes > 0
      )
    );
  }

  admins(): Promise<AdminRecord[]> {
    return run(() =>
      (this.#db.prepare("SELECT * FROM admins ORDER BY name").all() as Row[]).map(adminFromRow)
    );
  }

  putAdmin(name: string, change: AdminChange): Promise<void> {
    return run(() =>
      this.#transaction(() => {
        const now = Date.now();
        const columns = adminColumns(change);
        const exists = this.#db.prepare("SELECT 1 FROM admins WHERE name = ?").get(name);
        if (!exists) {
          if (change.hash === undefined) throw new UserError(`no admin named "${name}"`);
          this.#db.prepare(
            "INSERT INTO admins (name, password_hash, created_at, updated_at) VALUES (?, ?, ?, ?)",
          ).run(name, change.hash, now, now);
        }
        this.#db.prepare(
          `UPDATE admins SET ${columns.map(([c]) => `${c} = ?, `).join("")}
           updated_at = max(?, updated_at + 1) WHERE name = ?`,
        ).run(...columns.map(([, v]) => v), now, name);
      })
    );
  }

  removeAdmin(name: string): Promise<boolean> {
    return run(() =>
      this.#transaction(() =>
        this.#db.prepare("DELETE FROM admins WHERE name = ?").run(name).changes > 0
      )
    );
  }

  useRecoveryCode(name: string, codeHash: string): Promise<boolean> {
    return run(() =>
      this.#transaction(() => {
        const row = this.#db.prepare("SELECT recovery FROM admins WHERE name = ?").get(name);
        const codes: string[] = JSON.parse((row?.recovery as string | undefined) ?? "[]");
        if (!codes.includes(codeHash)) return false;
        this.#db.prepare("UPDATE admins SET recovery = ? WHERE name = ?")
          .run(JSON.stringify(codes.filter((c) => c !== codeHash)), name);
        return true;
      })
    );
  }

  addToken(token: TokenRecord): Promise<void> {
    return run(() =>
      this.#transaction(() => {
        const added = this.#db.prepare(
          `INSERT INTO admin_tokens (name, key, read_only, created_at, last_used_at)
           VALUES (?, ?, ?, ?, ?) ON CONFLICT (name) DO NOTHING`,
        ).run(token.name, token.key, token.readOnly ? 1 : 0, token.createdAt, token.lastUsedAt);
        if (added.changes === 0) throw new UserError(`a token named "${token.name}" exists`);
      })
    );
  }

  tokens(): Promise<TokenRecord[]> {
    return run(() =>
      (this.#db.prepare("SELECT * FROM admin_tokens ORDER BY name").all() as Row[])
        .map(tokenFromRow)
    );
  }

  findToken(key: string): Promise<TokenRecord | undefined> {
    return run(() => {
      const row = this.#db.prepare("SELECT * FROM admin_tokens WHERE key = ?").get(key);
      return row ? tokenFromRow(row) : undefined;
    });
  }

  touchToken(name: string, at: number): Promise<void> {
    return run(async () => {
      await this.#transaction(() =>
        this.#db.prepare("UPDATE admin_tokens SET last_used_at = ? WHERE name = ?").run(at, name)
      );
    });
  }

  revokeToken(name: string): Promise<boolean> {
    return run(() =>
      this.#transaction(() =>
        this.#db.prepare("DELETE FROM admin_tokens WHERE name = ?").run(name).changes > 0
      )
    );
  }

  addAudit(entry: AuditEntry): Promise<void> {
    return run(async () => {
      await this.#transaction(() => {
        this.#db.prepare(
          `INSERT INTO audit_log (at, actor, source, action, target, before, after)
           VALUES (?, ?, ?, ?, ?, ?, ?)`,
        ).run(
          entry.at,
          entry.actor,
          entry.source,
          entry.action,
          entry.target,
          entry.before,
          entry.after,
        );
        this.#db.prepare("DELETE FROM audit_log WHERE at < ?").run(
          Date.now() - AUDIT_RETENTION_MS,
        );
      });
    });
  }

  auditLog(query: AuditQuery = {}): Promise<AuditEntry[]> {
    return run(() =>
      (this.#db.prepare(
        `SELECT * FROM audit_log WHERE at >= ? AND (? IS NULL OR actor = ? OR target = ?)
         ORDER BY at DESC, id DESC LIMIT ?`,
      ).all(
        query.since ?? 0,
        query.who ?? null,
        query.who ?? null,
        query.who ?? null,
        query.limit ?? 1000,
      ) as Row[]).map(auditFromRow)
    );
  }

  remove(name: string): Promise<void> {
    return run(() =>
      this.#transaction(() => {
        const user = this.#get(name);
        if (!user) throw new UserError(`no user named "${name}"`);
        this.#db.prepare("DELETE FROM users WHERE id = ?").run(user.id);
        // Ids can come back (SQLite reuses the highest), so nothing of this user may stay.
        this.#db.prepare("DELETE FROM usage_history WHERE user_id = ?").run(user.id);
        this.#db.prepare("DELETE FROM alerts_sent WHERE user_id = ?").run(user.id);
        this.#db.prepare("DELETE FROM user_sources WHERE user_id = ?").run(user.id);
        this.#ownChanges++;
      })
    );
  }

  #update(name: string, columns: [string, number | string | null][]): Promise<User> {
    return run(() =>
      this.#transaction(() => {
        const assignments = [...columns, ["updated_at", Date.now()] as const]
          .map(([column]) => `${column} = ?`).join(", ");
        const values = [...columns.map(([, v]) => v), Date.now()];
        const result = this.#db.prepare(`UPDATE users SET ${assignments} WHERE name = ?`)
          .run(...values, name);
        if (result.changes === 0) throw new UserError(`no user named "${name}"`);
        this.#ownChanges++;
        return this.#get(name)!;
      })
    );
  }

  addUsage(deltas: UsageDelta[], batch?: UsageBatch): Promise<boolean> {
    return run(() => {
      if (deltas.length === 0) return true;
      const statement = this.#db.prepare(
        "UPDATE users SET bytes_up = bytes_up + ?, bytes_down = bytes_down + ?, open_conns = ? WHERE id = ?",
      );
      return this.#transaction(() => {
        if (batch) {
          const applied = this.#db.prepare(
            `INSERT INTO usage_batches (node, seq) VALUES (?, ?) ON CONFLICT (node)
             DO UPDATE SET seq = excluded.seq WHERE excluded.seq > usage_batches.seq`,
          ).run(batch.node, batch.seq);
          if (applied.changes === 0) return false;
        }
        for (const d of deltas) statement.run(d.up, d.down, d.openConns, d.id);
        return true;
      }).catch((error) => {
        throw refusedContent(error) ? new UsageRefusedError((error as Error).message) : error;
      });
    });
  }

  lastUsageBatch(node: string): Promise<number> {
    return run(() => {
      const row = this.#db.prepare("SELECT seq FROM usage_batches WHERE node = ?").get(node);
      return Number(row?.seq ?? 0);
    });
  }

  startExpiry(id: number, at: number): Promise<boolean> {
    return run(() =>
      this.#transaction(() => {
        const started = this.#db.prepare(
          `UPDATE users SET expires_at = ? + expires_after, expires_after = NULL, updated_at = ?
           WHERE id = ? AND expires_after IS NOT NULL`,
        ).run(at, Date.now(), id).changes > 0;
        if (started) this.#ownChanges++;
        return started;
      })
    );
  }

  seenSources(seen: SeenSource[]): Promise<void> {
    return run(() => {
      const upsert = this.#db.prepare(
        `INSERT INTO user_sources (user_id, source, at) VALUES (?, ?, ?)
         ON CONFLICT (user_id, source) DO UPDATE SET at = max(at, excluded.at)`,
      );
      return this.#transaction(() => {
        for (const s of seen) upsert.run(s.userId, s.source, s.at);
        this.#db.prepare("DELETE FROM user_sources WHERE at < ?").run(Date.now() - SOURCES_KEPT_MS);
      });
    });
  }

  sources(): Promise<Map<number, { source: string; at: number }[]>> {
    return run(() =>
      bySourceUser(
        this.#db.prepare(
          "SELECT user_id, source, at FROM user_sources ORDER BY user_id, at DESC, source",
        ).all() as Row[],
      )
    );
  }

  groupMembers(group: string): Promise<string[]> {
    return run(() =>
      this.#db.prepare("SELECT name FROM users WHERE group_name = ? ORDER BY name").all(group)
        .map((row) => row.name as string)
    );
  }

  templates(): Promise<Template[]> {
    return run(() =>
      this.#db.prepare("SELECT name, settings FROM templates ORDER BY name").all().map((row) => ({
        name: row.name as string,
        limits: JSON.parse(row.settings as string),
      }))
    );
  }

  saveTemplate(name: string, limits: UserLimits, create: boolean): Promise<Template> {
    return run(() => {
      checkTemplate(name, limits);
      return this.#transaction(() => {
        const row = this.#db.prepare("SELECT settings FROM templates WHERE name = ?").get(name);
        const merged = mergedTemplate(name, row?.settings as string | undefined, limits, create);
        this.#db.prepare(
          `INSERT INTO templates (name, settings, updated_at) VALUES (?, ?, ?)
           ON CONFLICT (name) DO UPDATE SET settings = excluded.settings,
           updated_at = excluded.updated_at`,
        ).run(name, JSON.stringify(merged), Date.now());
        return { name, limits: merged };
      });
    });
  }

  removeTemplate(name: string): Promise<void> {
    return run(() =>
      this.#transaction(() => {
        if (this.#db.prepare("DELETE FROM templates WHERE name = ?").run(name).changes === 0) {
          throw new UserError(`no template named "${name}"`);
        }
      })
    );
  }

  close(): Promise<void> {
    return run(() => this.#db.close());
  }
}

/**
 * Whether SQLite refused a statement for its values: a constraint (a NULL, from NaN) or a type
 * mismatch, or a value node:sqlite cannot bind; not a busy or locked database.
 */
function refusedContent(error: unknown): boolean {
  const { errcode, code } = error as { errcode?: number; code?: string };
  const SQLITE_CONSTRAINT = 19, SQLITE_MISMATCH = 20;
  if (typeof errcode === "number") {
    return (errcode & 0xff) === SQLITE_CONSTRAINT || (errcode & 0xff) === SQLITE_MISMATCH;
  }
  return code === "ERR_INVALID_ARG_VALUE" || code === "ERR_INVALID_ARG_TYPE";
}

/** Runs `work` as the interface's promise, a synchronous throw becoming a rejection. */
function run<T>(work: () => T | Promise<T>): Promise<T> {
  try {
    return Promise.resolve(work());
  } catch (error) {
    return Promise.reject(error);
  }
}
