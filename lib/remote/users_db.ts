/**
 * The users database: SQLite through `node:sqlite`, WAL mode, so the `user` commands and a
 * running server share it. Only a hash of each wire token is stored.
 */
import { DatabaseSync } from "node:sqlite";
import { createHash } from "node:crypto";
import { trojanToken } from "../protocol/trojan.ts";

/** A user row as the program sees it. */
export interface User {
  id: number;
  name: string;
  /** Hex SHA-256 of the 56-byte wire token. */
  key: string;
  upLimit: number;
  downLimit: number;
  quota: number;
  maxConns: number;
  enabled: boolean;
  /** Unix milliseconds, or null for never. */
  expiresAt: number | null;
  bytesUp: number;
  bytesDown: number;
  openConns: number;
  createdAt: number;
  updatedAt: number;
}

/** The settable limits of a user; omitted fields stay as they are. */
export interface UserLimits {
  upLimit?: number;
  downLimit?: number;
  quota?: number;
  maxConns?: number;
  expiresAt?: number | null;
}

/** Usage counted by the server since its last flush, per user id. */
export interface UsageDelta {
  id: number;
  up: number;
  down: number;
  openConns: number;
}

/** Thrown for requests the database refuses: a duplicate or unknown user name. */
export class UserError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "UserError";
  }
}

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
];

/**
 * The stored key for a user: SHA-256 of the wire token, so a copied database does not
 * hand out working tokens.
 */
export function keyForToken(token: string): string {
  return createHash("sha256").update(token).digest("hex");
}

/** The stored key for a name and password. */
export function keyForCredential(name: string, password: string): string {
  return keyForToken(trojanToken(`${name}:${password}`));
}

const NAME = /^[A-Za-z0-9_.@-]{1,64}$/;

/**
 * Checks a user name: 1–64 of letters, digits and `_ . @ -` (no `:`, which separates the
 * password in the credential).
 *
 * @throws {UserError} naming what is allowed
 */
export function checkUserName(name: string): void {
  if (!NAME.test(name)) {
    throw new UserError(
      `expected a user name of 1 to 64 letters, digits, "_", ".", "@" or "-", got "${name}"`,
    );
  }
}

/** Tries at taking the write lock, each waiting up to the busy timeout. */
const BUSY_ATTEMPTS = 5;

function isBusy(error: unknown): boolean {
  return /database is (locked|busy)|SQLITE_BUSY/i.test(String((error as Error)?.message));
}

type Row = Record<string, number | string | null>;

function toUser(row: Row): User {
  return {
    id: row.id as number,
    name: row.name as string,
    key: row.key as string,
    upLimit: row.up_limit as number,
    downLimit: row.down_limit as number,
    quota: row.quota as number,
    maxConns: row.max_conns as number,
    enabled: row.enabled === 1,
    expiresAt: row.expires_at as number | null,
    bytesUp: row.bytes_up as number,
    bytesDown: row.bytes_down as number,
    openConns: row.open_conns as number,
    createdAt: row.created_at as number,
    updatedAt: row.updated_at as number,
  };
}

/** The users database of one data directory. */
export class UsersDb {
  readonly #db: DatabaseSync;

  /**
   * Opens (and creates or migrates) the database at `path`.
   *
   * @throws {Error} when the file cannot be opened or is newer than this program
   */
  constructor(path: string) {
    this.#db = new DatabaseSync(path);
    this.#db.exec("PRAGMA busy_timeout = 10000");
    this.#db.exec("PRAGMA journal_mode = WAL");
    this.#db.exec("PRAGMA synchronous = NORMAL");
    this.#migrate();
  }

  #migrate(): void {
    const { user_version: version } = this.#db.prepare("PRAGMA user_version").get() as {
      user_version: number;
    };
    if (version > MIGRATIONS.length) {
      throw new Error(
        `the database has schema version ${version}, newer than this program's ${MIGRATIONS.length}`,
      );
    }
    for (let v = version; v < MIGRATIONS.length; v++) {
      this.transaction(() => {
        this.#db.exec(MIGRATIONS[v]);
        this.#db.exec(`PRAGMA user_version = ${v + 1}`);
      });
    }
  }

  /**
   * Runs `work` in one immediate transaction (taking the write lock up front, so it never has
   * to upgrade a read lock, which SQLite cannot wait for). The busy timeout waits for the
   * other process's short transaction; should it still report busy, the transaction is retried.
   */
  transaction<T>(work: () => T): T {
    for (let attempt = 1;; attempt++) {
      try {
        this.#db.exec("BEGIN IMMEDIATE");
        break;
      } catch (error) {
        if (attempt >= BUSY_ATTEMPTS || !isBusy(error)) throw error;
      }
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

  /** A number that changes whenever another connection commits (cheap change detection). */
  dataVersion(): number {
    return (this.#db.prepare("PRAGMA data_version").get() as { data_version: number })
      .data_version;
  }

  /** All users, by name. */
  list(): User[] {
    return (this.#db.prepare("SELECT * FROM users ORDER BY name").all() as Row[]).map(toUser);
  }

  /** One user by name, or undefined. */
  get(name: string): User | undefined {
    const row = this.#db.prepare("SELECT * FROM users WHERE name = ?").get(name) as
      | Row
      | undefined;
    return row && toUser(row);
  }

  /**
   * Adds a user.
   *
   * @throws {UserError} when the name is taken or invalid
   */
  add(name: string, password: string, limits: UserLimits = {}): User {
    checkUserName(name);
    const now = Date.now();
    return this.transaction(() => {
      if (this.get(name)) throw new UserError(`user "${name}" already exists`);
      this.#db.prepare(
        `INSERT INTO users (name, key, up_limit, down_limit, quota, max_conns, expires_at,
           created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`,
      ).run(
        name,
        keyForCredential(name, password),
        limits.upLimit ?? 0,
        limits.downLimit ?? 0,
        limits.quota ?? 0,
        limits.maxConns ?? 0,
        limits.expiresAt ?? null,
        now,
        now,
      );
      return this.get(name)!;
    });
  }

  /**
   * Changes a user's limits; fields left out keep their values.
   *
   * @throws {UserError} when the user does not exist
   */
  setLimits(name: string, limits: UserLimits): User {
    const columns: [string, number | null][] = [];
    if (limits.upLimit !== undefined) columns.push(["up_limit", limits.upLimit]);
    if (limits.downLimit !== undefined) columns.push(["down_limit", limits.downLimit]);
    if (limits.quota !== undefined) columns.push(["quota", limits.quota]);
    if (limits.maxConns !== undefined) columns.push(["max_conns", limits.maxConns]);
    if (limits.expiresAt !== undefined) columns.push(["expires_at", limits.expiresAt]);
    return this.#update(name, columns);
  }

  /** Sets a new password. @throws {UserError} when the user does not exist */
  setPassword(name: string, password: string): User {
    return this.#update(name, [["key", keyForCredential(name, password)]]);
  }

  /** Enables or disables a user. @throws {UserError} when the user does not exist */
  setEnabled(name: string, enabled: boolean): User {
    return this.#update(name, [["enabled", enabled ? 1 : 0]]);
  }

  /** Sets a user's usage back to zero. @throws {UserError} when the user does not exist */
  resetUsage(name: string): User {
    return this.#update(name, [["bytes_up", 0], ["bytes_down", 0]]);
  }

  /** Removes a user. @throws {UserError} when the user does not exist */
  remove(name: string): void {
    this.transaction(() => {
      const result = this.#db.prepare("DELETE FROM users WHERE name = ?").run(name);
      if (result.changes === 0) throw new UserError(`no user named "${name}"`);
    });
  }

  #update(name: string, columns: [string, number | string | null][]): User {
    return this.transaction(() => {
      const assignments = [...columns, ["updated_at", Date.now()] as const]
        .map(([column]) => `${column} = ?`).join(", ");
      const values = [...columns.map(([, v]) => v), Date.now()];
      const result = this.#db.prepare(`UPDATE users SET ${assignments} WHERE name = ?`)
        .run(...values, name);
      if (result.changes === 0) throw new UserError(`no user named "${name}"`);
      return this.get(name)!;
    });
  }

  /** Adds the server's counted usage in one transaction and records open connections. */
  addUsage(deltas: UsageDelta[]): void {
    if (deltas.length === 0) return;
    const statement = this.#db.prepare(
      "UPDATE users SET bytes_up = bytes_up + ?, bytes_down = bytes_down + ?, open_conns = ? WHERE id = ?",
    );
    this.transaction(() => {
      for (const d of deltas) statement.run(d.up, d.down, d.openConns, d.id);
    });
  }

  close(): void {
    this.#db.close();
  }
}
