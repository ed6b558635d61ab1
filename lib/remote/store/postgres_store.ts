/**
 * The users store in PostgreSQL through `npm:postgres`, shared by many nodes: the users and
 * their usage (in total and per node), the nodes' registry and heartbeats, and what each node
 * reports of its users' demand, from which every node takes its share of a user's rate limit.
 * Changes to users are announced with NOTIFY on {@linkcode CHANGES_CHANNEL}.
 */
import postgres from "postgres";
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
  UsageSince,
  User,
  UserLimits,
  UserStore,
} from "./user_store.ts";
import { NODE_ALIVE_MS } from "./node_registry.ts";
import { CHANGES_CHANNEL, PostgresRegistry } from "./postgres_registry.ts";
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

/** Schema steps, in order; version N is the first N applied. */
const MIGRATIONS: string[] = [
  `CREATE TABLE users (
    id BIGSERIAL PRIMARY KEY,
    name TEXT NOT NULL UNIQUE,
    key TEXT NOT NULL UNIQUE,
    up_limit BIGINT NOT NULL DEFAULT 0,
    down_limit BIGINT NOT NULL DEFAULT 0,
    quota BIGINT NOT NULL DEFAULT 0,
    max_conns INTEGER NOT NULL DEFAULT 0,
    enabled BOOLEAN NOT NULL DEFAULT TRUE,
    expires_at BIGINT,
    bytes_up BIGINT NOT NULL DEFAULT 0,
    bytes_down BIGINT NOT NULL DEFAULT 0,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL
  );
  CREATE TABLE revision (id SMALLINT PRIMARY KEY CHECK (id = 1), value BIGINT NOT NULL);
  INSERT INTO revision VALUES (1, 0);`,
  // Many nodes: the registry, usage per node, the last batch applied per node, demand.
  `CREATE TABLE usage_batches (node TEXT PRIMARY KEY, seq BIGINT NOT NULL);
  CREATE TABLE node_usage (
    user_id BIGINT NOT NULL REFERENCES users ON DELETE CASCADE,
    node TEXT NOT NULL,
    bytes_up BIGINT NOT NULL DEFAULT 0,
    bytes_down BIGINT NOT NULL DEFAULT 0,
    open_conns INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (user_id, node)
  );
  CREATE TABLE nodes (
    name TEXT PRIMARY KEY,
    listen TEXT NOT NULL,
    version TEXT NOT NULL,
    started_at BIGINT NOT NULL,
    seen_at TIMESTAMPTZ NOT NULL,
    open_conns INTEGER NOT NULL DEFAULT 0,
    rate_up BIGINT NOT NULL DEFAULT 0,
    rate_down BIGINT NOT NULL DEFAULT 0
  );
  CREATE TABLE node_load (
    node TEXT NOT NULL REFERENCES nodes ON DELETE CASCADE,
    user_id BIGINT NOT NULL REFERENCES users ON DELETE CASCADE,
    rate_up BIGINT NOT NULL,
    rate_down BIGINT NOT NULL,
    hungry_up BOOLEAN NOT NULL,
    hungry_down BOOLEAN NOT NULL,
    PRIMARY KEY (node, user_id)
  );`,
  // The admin's side: monthly resets, subscriptions (the token's hash and the password sealed
  // with the token), usage history (every node adds its bytes to the same buckets), alerts sent
  // (once for all nodes), the admin account.
  `ALTER TABLE users ADD COLUMN reset_day INTEGER NOT NULL DEFAULT 0;
  ALTER TABLE users ADD COLUMN last_reset_at BIGINT;
  ALTER TABLE users ADD COLUMN sub_key TEXT UNIQUE;
  ALTER TABLE users ADD COLUMN sub_sealed TEXT;
  CREATE TABLE usage_history (
    user_id BIGINT NOT NULL,
    resolution TEXT NOT NULL,
    at BIGINT NOT NULL,
    up BIGINT NOT NULL DEFAULT 0,
    down BIGINT NOT NULL DEFAULT 0,
    PRIMARY KEY (user_id, resolution, at)
  );
  CREATE TABLE alerts_sent (
    user_id BIGINT NOT NULL,
    alert TEXT NOT NULL,
    period TEXT NOT NULL,
    PRIMARY KEY (user_id, alert)
  );
  CREATE TABLE admin (
    id SMALLINT PRIMARY KEY CHECK (id = 1),
    password_hash TEXT NOT NULL,
    updated_at BIGINT NOT NULL
  );`,
  // Each user's destination block list, as its text (`user set NAME --block FILE`).
  `ALTER TABLE users ADD COLUMN block_list TEXT;`,
  // Several admins (the one admin becomes "admin"), each with its TOTP secret and hashed
  // recovery codes; API tokens (hashes only); the audit log.
  `CREATE TABLE admins (
    name TEXT PRIMARY KEY,
    password_hash TEXT NOT NULL,
    totp_secret TEXT,
    recovery TEXT NOT NULL DEFAULT '[]',
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL
  );
  INSERT INTO admins (name, password_hash, created_at, updated_at)
    SELECT '${DEFAULT_ADMIN}', password_hash, updated_at, updated_at FROM admin;
  DROP TABLE admin;
  CREATE TABLE admin_tokens (
    name TEXT PRIMARY KEY,
    key TEXT NOT NULL UNIQUE,
    read_only BOOLEAN NOT NULL,
    created_at BIGINT NOT NULL,
    last_used_at BIGINT
  );
  CREATE TABLE audit_log (
    id BIGSERIAL PRIMARY KEY,
    at BIGINT NOT NULL,
    actor TEXT NOT NULL,
    source TEXT NOT NULL,
    action TEXT NOT NULL,
    target TEXT NOT NULL,
    before TEXT,
    after TEXT
  );
  CREATE INDEX audit_log_at ON audit_log (at);`,
  // Usage moves its own revision, not the users' one: traffic makes no node re-read the users.
  // Each user row carries the usage revision of the last batch that touched it.
  `CREATE TABLE usage_revision (id SMALLINT PRIMARY KEY CHECK (id = 1), value BIGINT NOT NULL);
  INSERT INTO usage_revision VALUES (1, 0);
  ALTER TABLE users ADD COLUMN usage_rev BIGINT NOT NULL DEFAULT 0;
  CREATE INDEX users_usage_rev ON users (usage_rev);`,
  // The operator's controls: device limits (each node reports the addresses its users' tunnels
  // come from with its heartbeat) and the addresses seen, expiry from the first login, reset
  // periods, groups, templates.
  `ALTER TABLE users ADD COLUMN max_ips INTEGER NOT NULL DEFAULT 0;
  ALTER TABLE users ADD COLUMN expires_after BIGINT;
  ALTER TABLE users ADD COLUMN reset_period TEXT;
  ALTER TABLE users ADD COLUMN group_name TEXT;
  CREATE INDEX users_group ON users (group_name);
  ALTER TABLE node_load ADD COLUMN sources TEXT NOT NULL DEFAULT '[]';
  CREATE TABLE user_sources (
    user_id BIGINT NOT NULL REFERENCES users ON DELETE CASCADE,
    source TEXT NOT NULL,
    at BIGINT NOT NULL,
    PRIMARY KEY (user_id, source)
  );
  CREATE TABLE templates (
    name TEXT PRIMARY KEY,
    settings TEXT NOT NULL,
    updated_at BIGINT NOT NULL
  );`,
];

/** Any advisory lock number will do, as long as every node takes the same one to migrate. */
const MIGRATION_LOCK = 0x5717_0001;
/** The lock `add` takes, so that the check for a name differing only in case holds. */
const ADD_USER_LOCK = 0x5717_0002;

/** The row of a one-row table (`revision`, `usage_revision`); a clear error when it is gone. */
function theRow<T>(rows: readonly T[], table: string): T {
  const row = rows[0];
  if (row === undefined) {
    throw new Error(`the ${table} table has no row: the schema was changed by hand`);
  }
  return row;
}

const ALIVE = `interval '${NODE_ALIVE_MS} milliseconds'`;

/** A user's open connections: on the nodes still alive (and those written by no node). */
const USER_COLUMNS = `u.id, u.name, u.key, u.up_limit, u.down_limit, u.quota, u.max_conns,
  u.enabled, u.expires_at, u.bytes_up, u.bytes_down, u.created_at, u.updated_at, u.reset_day,
  u.last_reset_at, u.block_list, u.max_ips, u.expires_after, u.reset_period, u.group_name,
  COALESCE((SELECT sum(n.open_conns) FROM node_usage n LEFT JOIN nodes h ON h.name = n.node
    WHERE n.user_id = u.id AND (h.name IS NULL OR h.seen_at > now() - ${ALIVE})), 0)::int
    AS open_conns`;

/** BIGINT as a JavaScript number: byte counts and times stay far below 2^53. */
const bigintAsNumber = {
  to: 20,
  from: [20],
  serialize: (x: number) => String(x),
  parse: (x: string) => Number(x),
};

/**
 * Connects to the database at `url` and brings its schema up to date.
 *
 * @throws {SchemaVersionError} when the database is newer than this program
 * @throws {Error} when it cannot be reached (the message never holds the password)
 * @example const store = await openPostgresStore("postgres://node@db.internal/swiftproxy");
 */
export function openPostgresStore(url: string): Promise<PostgresStore> {
  return migrated(new PostgresStore(url));
}

/** How long one statement may run, waiting for locks included. */
const STATEMENT_TIMEOUT_MS = 10_000;

/**
 * A {@linkcode UserStore} in PostgreSQL; its {@linkcode PostgresStore.registry} is the nodes'
 * registry on the same connections.
 */
export class PostgresStore implements UserStore {
  readonly #sql: postgres.Sql;
  /** The nodes sharing this database: registration, heartbeats, notifications. */
  readonly registry: PostgresRegistry;

  /**
   * A pool of (at most 4) connections to `url`, opened as needed; not migrated, see
   * {@linkcode openPostgresStore}. A statement running longer than `statementTimeoutMs` is
   * cancelled by the server, so a stuck lock fails the call (and is tried again later) instead of
   * blocking every later heartbeat and usage batch of the node.
   */
  constructor(url: string, { statementTimeoutMs = STATEMENT_TIMEOUT_MS } = {}) {
    this.#sql = postgres(url, {
      max: 4,
      connect_timeout: 3,
      // Reconnect every half second while the database is down, not with the client's default
      // back-off (up to 20 s): a node must catch up within a second or so of its return.
      backoff: () => 0.5,
      idle_timeout: 60,
      onnotice: () => {},
      types: { bigint: bigintAsNumber },
      connection: { application_name: "swiftproxy-remote", statement_timeout: statementTimeoutMs },
    });
    this.registry = new PostgresRegistry(this.#sql);
  }

  async schemaVersion(): Promise<number> {
    const [exists] = await this.#sql`SELECT to_regclass('swiftproxy_schema') IS NOT NULL AS e`;
    if (!exists!.e) return 0; // a SELECT without FROM: always one row
    const [row] = await this.#sql`SELECT version FROM swiftproxy_schema`;
    return row ? row.version as number : 0;
  }

  async migrate(): Promise<void> {
    // Up to date: nothing to create, so a node's role needs no CREATE privilege.
    const current = await this.schemaVersion();
    if (current > MIGRATIONS.length) throw new SchemaVersionError(current, MIGRATIONS.length);
    if (current === MIGRATIONS.length) return;
    await this.#sql.begin(async (sql) => {
      // Nodes starting together: one migrates, the others wait and find nothing to do.
      await sql`SELECT pg_advisory_xact_lock(${MIGRATION_LOCK})`;
      await sql`CREATE TABLE IF NOT EXISTS swiftproxy_schema (version INTEGER NOT NULL)`;
      const [row] = await sql`SELECT version FROM swiftproxy_schema`;
      if (!row) await sql`INSERT INTO swiftproxy_schema VALUES (0)`;
      const version = row ? row.version as number : 0;
      if (version > MIGRATIONS.length) throw new SchemaVersionError(version, MIGRATIONS.length);
      for (let v = version; v < MIGRATIONS.length; v++) await sql.unsafe(MIGRATIONS[v]!);
      await sql`UPDATE swiftproxy_schema SET version = ${MIGRATIONS.length}`;
    });
  }

  async changeVersion(): Promise<number> {
    return theRow(await this.#sql`SELECT value FROM revision`, "revision").value as number;
  }

  async usageSince(mark: number): Promise<UsageSince> {
    // Batches take the usage revision's row lock first and hold it to their commit, so they
    // commit in revision order: every revision up to the highest one seen is complete.
    const rows = await this.#sql`
      SELECT id, bytes_up, bytes_down, usage_rev FROM users WHERE usage_rev > ${mark}`;
    return {
      mark: rows.reduce((m, r) => Math.max(m, r.usage_rev as number), mark),
      usage: rows.map((r) => ({
        id: r.id as number,
        bytesUp: r.bytes_up as number,
        bytesDown: r.bytes_down as number,
      })),
    };
  }

  async list(): Promise<User[]> {
    const rows = await this.#sql.unsafe(`SELECT ${USER_COLUMNS} FROM users u ORDER BY u.name`);
    return rows.map(userFromRow);
  }

  async get(name: string): Promise<User | undefined> {
    const [row] = await this.#sql.unsafe(`SELECT ${USER_COLUMNS} FROM users u WHERE name = $1`, [
      name,
    ]);
    return row && userFromRow(row);
  }

  async findByKey(key: string): Promise<User | undefined> {
    const [row] = await this.#sql.unsafe(`SELECT ${USER_COLUMNS} FROM users u WHERE key = $1`, [
      key,
    ]);
    return row && userFromRow(row);
  }

  /** Runs `work` in a transaction that changes users: the revision moves and NOTIFY is sent. */
  #change<T>(work: (sql: postgres.TransactionSql) => Promise<T>): Promise<T> {
    return this.#sql.begin(async (sql) => {
      const result = await work(sql);
      await this.#announce(sql);
      return result;
    }) as Promise<T>;
  }

  /** Moves the revision and sends NOTIFY, inside a transaction that changed users. */
  async #announce(sql: postgres.TransactionSql): Promise<void> {
    await sql`UPDATE revision SET value = value + 1`;
    await sql`SELECT pg_notify(${CHANGES_CHANNEL}, '')`;
  }

  async add(name: string, password: string, limits: UserLimits = {}): Promise<User> {
    checkUserName(name);
    const row = {
      name,
      key: keyForCredential(name, password),
      ...newUserColumns(limits, Date.now()),
    };
    await this.#change(async (sql) => {
      // One add at a time across the nodes, so two names that differ only in case cannot
      // both pass the check below.
      await sql`SELECT pg_advisory_xact_lock(${ADD_USER_LOCK})`;
      const [twin] = await sql`SELECT name FROM users WHERE lower(name) = lower(${name})
        AND name <> ${name} LIMIT 1`;
      if (twin) throw caseTwinRefusal(name, twin.name as string);
      const inserted = await sql`
        INSERT INTO users ${sql(row)} ON CONFLICT (name) DO NOTHING RETURNING id`;
      if (inserted.length === 0) throw new UserError(`user "${name}" already exists`);
    });
    return (await this.get(name))!;
  }

  setLimits(name: string, limits: UserLimits): Promise<User> {
    // A reset day counts from now, as for a new user, unless the user was reset before.
    return this.#update(name, Object.fromEntries(limitColumns(limits)), async (sql, id) => {
      if (!limits.resetDay && !limits.resetPeriod) return;
      await sql`UPDATE users SET last_reset_at = COALESCE(last_reset_at, ${Date.now()})
        WHERE id = ${id}`;
    });
  }

  setPassword(name: string, password: string): Promise<User> {
    return this.#update(name, { key: keyForCredential(name, password) });
  }

  setEnabled(name: string, enabled: boolean): Promise<User> {
    return this.#update(name, { enabled });
  }

  resetUsage(name: string, at = Date.now()): Promise<User> {
    return this.#update(
      name,
      { bytes_up: 0, bytes_down: 0, last_reset_at: at },
      (sql, id) => this.#resetNodeUsage(sql, id),
    );
  }

  /** The per-node usage goes back to zero with the total, so `--by-node` still sums to it. */
  async #resetNodeUsage(sql: postgres.TransactionSql, id: number): Promise<void> {
    await sql`UPDATE node_usage SET bytes_up = 0, bytes_down = 0 WHERE user_id = ${id}`;
  }

  async resetUsageForPeriod(name: string, periodStart: number, at: number): Promise<boolean> {
    // One UPDATE with the condition in it: of nodes checking at once, PostgreSQL lets one reset
    // and the others (waiting on its row lock, then re-reading the row) find it done.
    const reset = await this.#sql.begin(async (sql) => {
      const [row] = await sql`
        UPDATE users SET bytes_up = 0, bytes_down = 0, last_reset_at = ${at},
          updated_at = ${Date.now()}
        WHERE name = ${name} AND (last_reset_at IS NULL OR last_reset_at < ${periodStart})
        RETURNING id`;
      if (!row) return false;
      await this.#resetNodeUsage(sql, row.id as number);
      await this.#announce(sql);
      return true;
    });
    if (!reset && !await this.get(name)) throw new UserError(`no user named "${name}"`);
    return reset as boolean;
  }

  async addUsageHistory(samples: UsageSample[], at: number): Promise<void> {
    // In one order on every node, so two nodes' writes wait for each other, never deadlock.
    const rows = samples.filter((s) => s.up || s.down).sort((a, b) => a.userId - b.userId);
    await this.#sql.begin(async (sql) => {
      for (const resolution of ["minute", "day"] as const) {
        const bucket = at - at % HISTORY_BUCKET_MS[resolution];
        if (rows.length > 0) {
          // Every node adds its own bytes to the same bucket: the history is the nodes' sum.
          await sql`
            INSERT INTO usage_history (user_id, resolution, at, up, down)
            SELECT d."userId", ${resolution}, ${bucket}, d.up, d.down
            FROM jsonb_to_recordset(${JSON.stringify(rows)}::text::jsonb)
              AS d("userId" BIGINT, up BIGINT, down BIGINT)
            ORDER BY d."userId"
            ON CONFLICT (user_id, resolution, at) DO UPDATE
            SET up = usage_history.up + excluded.up, down = usage_history.down + excluded.down`;
        }
        await sql`DELETE FROM usage_history
          WHERE resolution = ${resolution} AND at < ${at - HISTORY_RETENTION_MS[resolution]}`;
      }
    });
  }

  async usageHistory(
    userId: number,
    resolution: UsageResolution,
    since: number,
  ): Promise<UsagePoint[]> {
    const rows = await this.#sql`
      SELECT at, up, down FROM usage_history
      WHERE user_id = ${userId} AND resolution = ${resolution}
        AND at >= ${since - since % HISTORY_BUCKET_MS[resolution]}
      ORDER BY at`;
    return rows.map((r) => ({ at: r.at as number, up: r.up as number, down: r.down as number }));
  }

  async markAlert(userId: number, alert: string, period: string): Promise<boolean> {
    // Nodes marking at once: the insert of one wins, the others see its row and change nothing.
    const rows = await this.#sql`
      INSERT INTO alerts_sent (user_id, alert, period) VALUES (${userId}, ${alert}, ${period})
      ON CONFLICT (user_id, alert) DO UPDATE SET period = excluded.period
      WHERE alerts_sent.period <> excluded.period
      RETURNING user_id`;
    return rows.length > 0;
  }

  async setSubscription(name: string, subscription: StoredSubscription | null): Promise<void> {
    await this.#update(name, {
      sub_key: subscription?.key ?? null,
      sub_sealed: subscription?.sealedPassword ?? null,
    });
  }

  async findBySubscriptionKey(
    key: string,
  ): Promise<{ user: User; sealedPassword: string } | undefined> {
    const [row] = await this.#sql.unsafe(
      `SELECT ${USER_COLUMNS}, u.sub_sealed FROM users u WHERE sub_key = $1`,
      [key],
    );
    return row && { user: userFromRow(row), sealedPassword: row.sub_sealed as string };
  }

  async adminAccount(): Promise<AdminAccount | undefined> {
    return adminAccountOf(await this.admins());
  }

  async unlockAdmin(): Promise<boolean> {
    const rows = await this.#sql`
      UPDATE admins SET updated_at = greatest(${Date.now()}, updated_at + 1) RETURNING name`;
    return rows.length > 0;
  }

  async adminPasswordHash(): Promise<string | undefined> {
    return firstAdmin(await this.admins())?.hash;
  }

  setAdminPasswordHash(hash: string): Promise<void> {
    return this.putAdmin(DEFAULT_ADMIN, { hash });
  }

  async admins(): Promise<AdminRecord[]> {
    return (await this.#sql`SELECT * FROM admins ORDER BY name`).map(adminFromRow);
  }

  async putAdmin(name: string, change: AdminChange): Promise<void> {
    const now = Date.now();
    const values = Object.fromEntries(adminColumns(change));
    await this.#sql.begin(async (sql) => {
      if (change.hash !== undefined) {
        await sql`INSERT INTO admins (name, password_hash, created_at, updated_at)
          VALUES (${name}, ${change.hash}, ${now}, ${now}) ON CONFLICT (name) DO NOTHING`;
      }
      const has = (column: string) => Object.hasOwn(values, column);
      const updated = await sql`UPDATE admins SET
        password_hash = COALESCE(${values.password_hash ?? null}, password_hash),
        totp_secret = CASE WHEN ${has("totp_secret")} THEN ${values.totp_secret ?? null}
          ELSE totp_secret END,
        recovery = COALESCE(${values.recovery ?? null}, recovery),
        updated_at = greatest(${now}, updated_at + 1) WHERE name = ${name} RETURNING name`;
      if (updated.length === 0) throw new UserError(`no admin named "${name}"`);
    });
  }

  async removeAdmin(name: string): Promise<boolean> {
    return (await this.#sql`DELETE FROM admins WHERE name = ${name} RETURNING name`).length > 0;
  }

  async useRecoveryCode(name: string, codeHash: string): Promise<boolean> {
    return await this.#sql.begin(async (sql) => {
      const [row] = await sql`SELECT recovery FROM admins WHERE name = ${name} FOR UPDATE`;
      const codes: string[] = JSON.parse((row?.recovery as string | undefined) ?? "[]");
      if (!codes.includes(codeHash)) return false;
      const left = JSON.stringify(codes.filter((c) => c !== codeHash));
      await sql`UPDATE admins SET recovery = ${left} WHERE name = ${name}`;
      return true;
    }) as boolean;
  }

  async addToken(token: TokenRecord): Promise<void> {
    const added = await this.#sql`
      INSERT INTO admin_tokens (name, key, read_only, created_at, last_used_at)
      VALUES (${token.name}, ${token.key}, ${token.readOnly}, ${token.createdAt},
        ${token.lastUsedAt}) ON CONFLICT (name) DO NOTHING RETURNING name`;
    if (added.length === 0) throw new UserError(`a token named "${token.name}" exists`);
  }

  async tokens(): Promise<TokenRecord[]> {
    return (await this.#sql`SELECT * FROM admin_tokens ORDER BY name`).map(tokenFromRow);
  }

  async findToken(key: string): Promise<TokenRecord | undefined> {
    const [row] = await this.#sql`SELECT * FROM admin_tokens WHERE key = ${key}`;
    return row ? tokenFromRow(row) : undefined;
  }

  async touchToken(name: string, at: number): Promise<void> {
    await this.#sql`UPDATE admin_tokens SET last_used_at = ${at} WHERE name = ${name}`;
  }

  async revokeToken(name: string): Promise<boolean> {
    return (await this.#sql`DELETE FROM admin_tokens WHERE name = ${name} RETURNING name`)
      .length > 0;
  }

  async addAudit(entry: AuditEntry): Promise<void> {
    await this.#sql.begin(async (sql) => {
      await sql`INSERT INTO audit_log (at, actor, source, action, target, before, after)
        VALUES (${entry.at}, ${entry.actor}, ${entry.source}, ${entry.action}, ${entry.target},
          ${entry.before}, ${entry.after})`;
      await sql`DELETE FROM audit_log WHERE at < ${Date.now() - AUDIT_RETENTION_MS}`;
    });
  }

  async auditLog(query: AuditQuery = {}): Promise<AuditEntry[]> {
    const who = query.who ?? null;
    const rows = await this.#sql`SELECT * FROM audit_log WHERE at >= ${query.since ?? 0}
      AND (${who}::text IS NULL OR actor = ${who} OR target = ${who})
      ORDER BY at DESC, id DESC LIMIT ${query.limit ?? 1000}`;
    return rows.map(auditFromRow);
  }

  async remove(name: string): Promise<void> {
    await this.#change(async (sql) => {
      const deleted = await sql`DELETE FROM users WHERE name = ${name} RETURNING id`;
      if (deleted.length === 0) throw new UserError(`no user named "${name}"`);
      // No foreign keys here (the history has the server as user 0): removed by hand.
      const id = deleted[0]!.id;
      await sql`DELETE FROM usage_history WHERE user_id = ${id}`;
      await sql`DELETE FROM alerts_sent WHERE user_id = ${id}`;
    });
  }

  async #update(
    name: string,
    columns: Record<string, number | string | boolean | null>,
    also?: (sql: postgres.TransactionSql, id: number) => Promise<void>,
  ): Promise<User> {
    await this.#change(async (sql) => {
      const values = { ...columns, updated_at: Date.now() };
      const updated = await sql`UPDATE users SET ${sql(values)} WHERE name = ${name} RETURNING id`;
      if (updated.length === 0) throw new UserError(`no user named "${name}"`);
      await also?.(sql, updated[0]!.id as number);
    });
    return (await this.get(name))!;
  }

  async addUsage(deltas: UsageDelta[], batch?: UsageBatch): Promise<boolean> {
    if (deltas.length === 0) return true;
    const node = batch?.node ?? "";
    // NaN has no JSON form: it becomes null, which the NOT NULL columns refuse (whole batch).
    const json = JSON.stringify(deltas);
    try {
      return await this.#sql.begin(async (sql) => {
        if (batch) {
          const applied = await sql`
            INSERT INTO usage_batches (node, seq) VALUES (${batch.node}, ${batch.seq})
            ON CONFLICT (node) DO UPDATE SET seq = excluded.seq
              WHERE excluded.seq > usage_batches.seq
            RETURNING seq`;
          if (applied.length === 0) return false;
        }
        const { value: rev } = theRow(
          await sql`UPDATE usage_revision SET value = value + 1 RETURNING value`,
          "usage_revision",
        );
        await sql`
          WITH d AS (SELECT * FROM jsonb_to_recordset(${json}::text::jsonb)
                       AS d(id BIGINT, up BIGINT, down BIGINT, "openConns" INTEGER)),
          u AS (UPDATE users SET bytes_up = users.bytes_up + d.up,
                                 bytes_down = users.bytes_down + d.down, usage_rev = ${rev}
                FROM d WHERE users.id = d.id RETURNING users.id)
          INSERT INTO node_usage (user_id, node, bytes_up, bytes_down, open_conns)
          SELECT d.id, ${node}, d.up, d.down, d."openConns" FROM d JOIN u ON u.id = d.id
          ON CONFLICT (user_id, node) DO UPDATE SET
            bytes_up = node_usage.bytes_up + excluded.bytes_up,
            bytes_down = node_usage.bytes_down + excluded.bytes_down,
            open_conns = excluded.open_conns`;
        return true;
      });
    } catch (error) {
      // SQLSTATE class 22 (data exception) and 23 (integrity constraint): the values themselves.
      const code = (error as { code?: unknown }).code;
      if (typeof code === "string" && /^2[23]/.test(code)) {
        throw new UsageRefusedError((error as Error).message);
      }
      throw error;
    }
  }

  async lastUsageBatch(node: string): Promise<number> {
    const [row] = await this.#sql`SELECT seq FROM usage_batches WHERE node = ${node}`;
    return Number(row?.seq ?? 0);
  }

  /**
   * Writes `users` as they are (keys, limits, reset days and usage), for `migrate`; with `replace`, every
   * user not among them is removed first. Usage lands on no node (node `""`).
   */
  async importUsers(users: User[], replace: boolean): Promise<void> {
    await this.#change(async (sql) => {
      if (replace) await sql`DELETE FROM users`;
      for (const u of users) {
        const [row] = await sql`
          INSERT INTO users (name, key, up_limit, down_limit, quota, max_conns, enabled,
            expires_at, bytes_up, bytes_down, reset_day, last_reset_at, created_at, updated_at,
            max_ips, expires_after, reset_period, group_name)
          VALUES (${u.name}, ${u.key}, ${u.upLimit}, ${u.downLimit}, ${u.quota}, ${u.maxConns},
            ${u.enabled}, ${u.expiresAt}, ${u.bytesUp}, ${u.bytesDown}, ${u.resetDay ?? 0},
            ${u.lastResetAt ?? null}, ${u.createdAt}, ${u.updatedAt}, ${u.maxIps ?? 0},
            ${u.expiresAfter ?? null}, ${u.resetPeriod ?? null}, ${u.group ?? null})
          RETURNING id`;
        if (u.bytesUp || u.bytesDown) {
          await sql`INSERT INTO node_usage (user_id, node, bytes_up, bytes_down)
            VALUES (${row!.id}, '', ${u.bytesUp}, ${u.bytesDown})`; // INSERT … RETURNING: one row
        }
      }
    });
  }

  async startExpiry(id: number, at: number): Promise<boolean> {
    // One UPDATE with the condition in it: of nodes starting it at once, one does.
    return await this.#change(async (sql) => {
      const rows = await sql`
        UPDATE users SET expires_at = ${at} + expires_after, expires_after = NULL,
          updated_at = ${Date.now()}
        WHERE id = ${id} AND expires_after IS NOT NULL RETURNING id`;
      return rows.length > 0;
    });
  }

  async seenSources(seen: SeenSource[]): Promise<void> {
    // In one order on every node, so two nodes' writes wait for each other, never deadlock.
    const rows = [...seen].sort((a, b) => a.userId - b.userId || (a.source < b.source ? -1 : 1));
    await this.#sql.begin(async (sql) => {
      if (rows.length > 0) {
        await sql`
          INSERT INTO user_sources (user_id, source, at)
          SELECT d."userId", d.source, d.at
          FROM jsonb_to_recordset(${JSON.stringify(rows)}::text::jsonb)
            AS d("userId" BIGINT, source TEXT, at BIGINT)
          WHERE EXISTS (SELECT 1 FROM users WHERE id = d."userId")
          ON CONFLICT (user_id, source) DO UPDATE SET at = greatest(user_sources.at, excluded.at)`;
      }
      await sql`DELETE FROM user_sources WHERE at < ${Date.now() - SOURCES_KEPT_MS}`;
    });
  }

  async sources(): Promise<Map<number, { source: string; at: number }[]>> {
    return bySourceUser(
      await this.#sql`SELECT user_id, source, at FROM user_sources
        ORDER BY user_id, at DESC, source`,
    );
  }

  async groupMembers(group: string): Promise<string[]> {
    const rows = await this.#sql`SELECT name FROM users WHERE group_name = ${group} ORDER BY name`;
    return rows.map((r) => r.name as string);
  }

  async templates(): Promise<Template[]> {
    const rows = await this.#sql`SELECT name, settings FROM templates ORDER BY name`;
    return rows.map((r) => ({ name: r.name as string, limits: JSON.parse(r.settings as string) }));
  }

  async saveTemplate(name: string, limits: UserLimits, create: boolean): Promise<Template> {
    checkTemplate(name, limits);
    return await this.#sql.begin(async (sql) => {
      const [row] = await sql`SELECT settings FROM templates WHERE name = ${name} FOR UPDATE`;
      const merged = mergedTemplate(name, row?.settings as string | undefined, limits, create);
      await sql`
        INSERT INTO templates (name, settings, updated_at)
        VALUES (${name}, ${JSON.stringify(merged)}, ${Date.now()})
        ON CONFLICT (name) DO UPDATE SET settings = excluded.settings,
          updated_at = excluded.updated_at`;
      return { name, limits: merged };
    }) as Template;
  }

  async removeTemplate(name: string): Promise<void> {
    const rows = await this.#sql`DELETE FROM templates WHERE name = ${name} RETURNING name`;
    if (rows.length === 0) throw new UserError(`no template named "${name}"`);
  }

  async close(): Promise<void> {
    await this.#sql.end({ timeout: 2 });
  }
}
