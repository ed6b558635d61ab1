/**
 * What the admin side keeps in the store besides users: the panel's admins (each with a
 * password hash and, once enrolled, a TOTP secret and hashed recovery codes), the API tokens
 * (only their hashes) and the audit log of every change, kept {@linkcode AUDIT_RETENTION_MS}.
 * Both stores (SQLite, PostgreSQL) implement it, so several nodes share them.
 */

/** The admin `admin passwd` with no name sets: the first admin of every older data directory. */
export const DEFAULT_ADMIN = "admin";

/** How long audit entries are kept: 180 days. */
export const AUDIT_RETENTION_MS = 180 * 24 * 3600_000;

/** One admin of the panel as stored. */
export interface AdminRecord {
  name: string;
  /** scrypt hash (`lib/remote/admin/password_hash.ts`). */
  hash: string;
  /** Base32 TOTP secret once two-factor sign-in is enrolled, else null. */
  totpSecret: string | null;
  /** Hex SHA-256 of each recovery code not used yet. */
  recovery: string[];
  createdAt: number;
  updatedAt: number;
}

/** What {@linkcode AdminStore.putAdmin} changes; fields left out stay as they are. */
export interface AdminChange {
  hash?: string;
  totpSecret?: string | null;
  recovery?: string[];
}

/** An API token as stored: its hex SHA-256, never the token. */
export interface TokenRecord {
  name: string;
  key: string;
  readOnly: boolean;
  createdAt: number;
  lastUsedAt: number | null;
}

/** One change as the audit log keeps it. */
export interface AuditEntry {
  /** Unix milliseconds. */
  at: number;
  /** An admin's name, `token:NAME`, or `cli`. */
  actor: string;
  /** The client's address, or `local` for the command line. */
  source: string;
  /** What was done, e.g. `user.set`, `admin.remove`, `token.add`. */
  action: string;
  /** Whom or what it was done to. */
  target: string;
  /** The changed fields before and after, as JSON text; null where there was nothing. */
  before: string | null;
  after: string | null;
}

/** Which audit entries to read. */
export interface AuditQuery {
  /** Entries by this actor or about this target. */
  who?: string;
  /** From this time (Unix milliseconds) on. */
  since?: number;
  /** At most this many, newest first (default 1000). */
  limit?: number;
}

/** The admin side's part of the store. */
export interface AdminStore {
  /** Every admin, ordered by name. */
  admins(): Promise<AdminRecord[]>;
  /**
   * Creates the admin `name` (then `change.hash` is required) or changes the fields given.
   * @throws {UserError} for a new admin without a hash
   */
  putAdmin(name: string, change: AdminChange): Promise<void>;
  /** Removes an admin; false when there was none by that name. */
  removeAdmin(name: string): Promise<boolean>;
  /** Uses up one recovery code (by its hex SHA-256); true when it was there and unused. */
  useRecoveryCode(name: string, codeHash: string): Promise<boolean>;
  /** Stores a new token. @throws {UserError} when the name is taken */
  addToken(token: TokenRecord): Promise<void>;
  /** Every token, ordered by name. */
  tokens(): Promise<TokenRecord[]>;
  /** The token whose hash this is, or undefined. */
  findToken(key: string): Promise<TokenRecord | undefined>;
  /** Records that token `name` was used at `at`. */
  touchToken(name: string, at: number): Promise<void>;
  /** Removes a token; false when there was none by that name. */
  revokeToken(name: string): Promise<boolean>;
  /** Appends an entry and forgets those older than {@linkcode AUDIT_RETENTION_MS}. */
  addAudit(entry: AuditEntry): Promise<void>;
  /** Entries matching `query`, newest first. */
  auditLog(query?: AuditQuery): Promise<AuditEntry[]>;
}

/** An admin out of a row of the `admins` table (both stores). */
export function adminFromRow(row: Record<string, unknown>): AdminRecord {
  return {
    name: row.name as string,
    hash: row.password_hash as string,
    totpSecret: (row.totp_secret as string | null) ?? null,
    recovery: JSON.parse((row.recovery as string | null) ?? "[]"),
    createdAt: Number(row.created_at),
    updatedAt: Number(row.updated_at),
  };
}

/** A token out of a row of the `admin_tokens` table (both stores). */
export function tokenFromRow(row: Record<string, unknown>): TokenRecord {
  return {
    name: row.name as string,
    key: row.key as string,
    readOnly: Boolean(row.read_only),
    createdAt: Number(row.created_at),
    lastUsedAt: row.last_used_at == null ? null : Number(row.last_used_at),
  };
}

/** An audit entry out of a row of the `audit_log` table (both stores). */
export function auditFromRow(row: Record<string, unknown>): AuditEntry {
  return {
    at: Number(row.at),
    actor: row.actor as string,
    source: row.source as string,
    action: row.action as string,
    target: row.target as string,
    before: (row.before as string | null) ?? null,
    after: (row.after as string | null) ?? null,
  };
}

/** The columns `change` sets, by their names in both stores. */
export function adminColumns(change: AdminChange): [string, string | null][] {
  const columns: [string, string | null][] = [];
  if (change.hash !== undefined) columns.push(["password_hash", change.hash]);
  if (change.totpSecret !== undefined) columns.push(["totp_secret", change.totpSecret]);
  if (change.recovery !== undefined) columns.push(["recovery", JSON.stringify(change.recovery)]);
  return columns;
}

/** The admin a login without a name is for: "admin" when there is one, else the first. */
export function firstAdmin(admins: AdminRecord[]): AdminRecord | undefined {
  return admins.find((a) => a.name === DEFAULT_ADMIN) ?? admins[0];
}

/**
 * The admin account as the older single-admin calls see it: the first admin's hash, and a
 * stamp that moves with any admin's change or an unlock (the latest `updated_at`).
 */
export function adminAccountOf(
  admins: AdminRecord[],
): { hash: string; stamp: number } | undefined {
  const first = firstAdmin(admins);
  return first && { hash: first.hash, stamp: Math.max(...admins.map((a) => a.updatedAt)) };
}
