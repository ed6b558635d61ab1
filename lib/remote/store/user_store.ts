/**
 * The users store: what the remote and its `user` commands need from wherever users are kept.
 * SQLite (`sqlite_store.ts`) is the embedded one; every implementation passes the contract
 * suite in `tests/remote/_user_store_contract.ts`.
 */
import { createHash } from "node:crypto";
import { trojanToken } from "../../protocol/trojan.ts";
import { parseBlockList, USER_BLOCK_LIST_MAX_BYTES } from "../../rules/block_list.ts";
import { RulesError } from "../../rules/rule.ts";
import type { AdminStore } from "./admin_store.ts";

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
  /** Day of the month (1–28, UTC) its usage goes back to zero; absent for no monthly reset. */
  resetDay?: number;
  /** Unix milliseconds of its last usage reset (monthly or by hand); absent for never. */
  lastResetAt?: number;
  /** The text of its destination block list (`user set NAME --block FILE`); absent for none. */
  blockList?: string;
  /** Distinct client addresses (IPv6 /64 as one) with tunnels open at once; absent for no limit. */
  maxIps?: number;
  /**
   * `--expires-after`: milliseconds of access from the first login; present while the account
   * is on hold (not logged in yet), gone once the first login set `expiresAt`.
   */
  expiresAfter?: number;
  /** How often its usage goes back to zero (`--reset`); absent: monthly when `resetDay` is set. */
  resetPeriod?: ResetPeriod;
  /** The group it belongs to (`--group G`); absent for none. */
  group?: string;
}

/** The usage reset periods of `--reset`. */
export const RESET_PERIODS = ["daily", "weekly", "monthly", "yearly"] as const;
/** How often a user's usage goes back to zero. */
export type ResetPeriod = typeof RESET_PERIODS[number];

/** One address a user connected from, with when it was last seen (Unix milliseconds). */
export interface SeenSource {
  userId: number;
  /** The address, or an IPv6 /64 (`lib/common/security/source_key.ts`). */
  source: string;
  at: number;
}

/** A named set of user settings that `user add --template T` starts from. */
export interface Template {
  name: string;
  limits: UserLimits;
}

/**
 * A user out of a database row with the columns both stores share (snake_case names; `enabled`
 * as 0/1 or a boolean).
 */
export function userFromRow(row: Record<string, unknown>): User {
  return {
    id: row.id as number,
    name: row.name as string,
    key: row.key as string,
    upLimit: row.up_limit as number,
    downLimit: row.down_limit as number,
    quota: row.quota as number,
    maxConns: row.max_conns as number,
    enabled: Boolean(row.enabled),
    expiresAt: row.expires_at as number | null,
    bytesUp: row.bytes_up as number,
    bytesDown: row.bytes_down as number,
    openConns: row.open_conns as number,
    createdAt: row.created_at as number,
    updatedAt: row.updated_at as number,
    // Absent rather than 0 or null: a user without them looks as it did before they existed.
    ...(row.reset_day ? { resetDay: row.reset_day as number } : {}),
    ...(row.last_reset_at == null ? {} : { lastResetAt: row.last_reset_at as number }),
    ...(row.block_list ? { blockList: row.block_list as string } : {}),
    ...(row.max_ips ? { maxIps: row.max_ips as number } : {}),
    ...(row.expires_after == null ? {} : { expiresAfter: row.expires_after as number }),
    ...(row.reset_period ? { resetPeriod: row.reset_period as ResetPeriod } : {}),
    ...(row.group_name ? { group: row.group_name as string } : {}),
  };
}

/**
 * Brings `store`'s schema up to date and hands it back; closes it if that fails.
 *
 * @throws {SchemaVersionError} when the database is newer than this program
 * @example const store = await migrated(new SqliteStore(path));
 */
export async function migrated<S extends UserStore>(store: S): Promise<S> {
  try {
    await store.migrate();
  } catch (error) {
    await store.close();
    throw error;
  }
  return store;
}

/**
 * The columns `limits` sets, by their names in both stores; omitted limits are left out.
 *
 * @throws {UserError} for a reset day other than 0 to 28
 */
export function limitColumns(limits: UserLimits): [string, number | string | null][] {
  const columns: [string, number | string | null][] = [];
  if (limits.upLimit !== undefined) columns.push(["up_limit", limits.upLimit]);
  if (limits.downLimit !== undefined) columns.push(["down_limit", limits.downLimit]);
  if (limits.quota !== undefined) columns.push(["quota", limits.quota]);
  if (limits.maxConns !== undefined) columns.push(["max_conns", limits.maxConns]);
  if (limits.expiresAt !== undefined) columns.push(["expires_at", limits.expiresAt]);
  if (limits.resetDay !== undefined) {
    checkResetDay(limits.resetDay);
    columns.push(["reset_day", limits.resetDay]);
  }
  if (limits.blockList !== undefined) {
    checkBlockList(limits.blockList);
    columns.push(["block_list", limits.blockList || null]);
  }
  if (limits.maxIps !== undefined) columns.push(["max_ips", limits.maxIps]);
  // An exact expiry and one from the first login exclude each other: the last one given wins.
  if (limits.expiresAfter !== undefined) {
    columns.push(["expires_after", limits.expiresAfter]);
    if (limits.expiresAfter !== null && limits.expiresAt === undefined) {
      columns.push(["expires_at", null]);
    }
  }
  if (limits.expiresAt !== undefined && limits.expiresAfter === undefined) {
    columns.push(["expires_after", null]);
  }
  if (limits.resetPeriod !== undefined) {
    checkResetPeriod(limits.resetPeriod);
    columns.push(["reset_period", limits.resetPeriod]);
  }
  if (limits.group !== undefined) {
    if (limits.group) checkGroupName(limits.group);
    columns.push(["group_name", limits.group || null]);
  }
  return columns;
}

/**
 * Checks a reset period: one of {@linkcode RESET_PERIODS}, or null for none.
 *
 * @throws {UserError} naming what is allowed
 */
export function checkResetPeriod(period: string | null): void {
  if (period !== null && !(RESET_PERIODS as readonly string[]).includes(period)) {
    throw new UserError(`expected a reset period of ${RESET_PERIODS.join(", ")}, got "${period}"`);
  }
}

/** What a group or template name may be, in the words of every refusal. */
export const GROUP_NAME_RULE = 'a name of 1 to 64 letters, digits, "_", ".", "@" or "-"';

/**
 * Checks a group or template name (the characters of a user name).
 *
 * @throws {UserError} naming what is allowed
 */
export function checkGroupName(name: string): void {
  if (!NAME.test(name)) throw new UserError(`expected ${GROUP_NAME_RULE}, got "${name}"`);
}

/** The values of `limits` a new user's row starts with (the columns `add` inserts). */
export function newUserColumns(
  limits: UserLimits,
  now: number,
): Record<string, number | string | null> {
  checkResetDay(limits.resetDay ?? 0);
  checkResetPeriod(limits.resetPeriod ?? null);
  checkBlockList(limits.blockList ?? null);
  if (limits.group) checkGroupName(limits.group);
  const onHold = limits.expiresAfter != null;
  return {
    up_limit: limits.upLimit ?? 0,
    down_limit: limits.downLimit ?? 0,
    quota: limits.quota ?? 0,
    max_conns: limits.maxConns ?? 0,
    expires_at: onHold ? null : limits.expiresAt ?? null,
    reset_day: limits.resetDay ?? 0,
    // The first reset is the next period's, not the one already begun.
    last_reset_at: limits.resetDay || limits.resetPeriod ? now : null,
    created_at: now,
    updated_at: now,
    block_list: limits.blockList || null,
    max_ips: limits.maxIps ?? 0,
    expires_after: limits.expiresAfter ?? null,
    reset_period: limits.resetPeriod ?? null,
    group_name: limits.group || null,
  };
}

/**
 * Checks a user's block list: at most {@linkcode USER_BLOCK_LIST_MAX_BYTES}, and one the
 * server can read (the same parser `serve` uses).
 *
 * @throws {UserError} naming the line and the reason, or the size
 */
export function checkBlockList(text: string | null): void {
  if (!text) return;
  const bytes = new TextEncoder().encode(text).length;
  if (bytes > USER_BLOCK_LIST_MAX_BYTES) {
    throw new UserError(
      `a user's block list may hold at most ${USER_BLOCK_LIST_MAX_BYTES} bytes, this one has ${bytes}`,
    );
  }
  try {
    parseBlockList(text, "block list");
  } catch (error) {
    if (error instanceof RulesError) throw new UserError(error.message);
    throw error;
  }
}

/** The settable limits of a user; omitted fields stay as they are. */
export interface UserLimits {
  upLimit?: number;
  downLimit?: number;
  quota?: number;
  maxConns?: number;
  expiresAt?: number | null;
  /** 1–28 for a monthly reset on that day, 0 for none. */
  resetDay?: number;
  /** The text of a destination block list; null or "" for none. */
  blockList?: string | null;
  /** Distinct client addresses at once, 0 for no limit. */
  maxIps?: number;
  /** Milliseconds of access from the first login (on hold until then); null for none. */
  expiresAfter?: number | null;
  /** How often usage goes back to zero; null for none besides `resetDay`. */
  resetPeriod?: ResetPeriod | null;
  /** The user's group; null or "" for none. */
  group?: string | null;
}

/** Usage counted by the server since its last flush, per user id. */
export interface UsageDelta {
  id: number;
  up: number;
  down: number;
  openConns: number;
}

/** What {@linkcode UserStore.usageSince} answers: stored totals of the users whose usage moved. */
export interface UsageSince {
  mark: number;
  usage: { id: number; bytesUp: number; bytesDown: number }[];
}

/** Bytes one user (or, with `userId` 0, the whole server) moved in a stretch of time. */
export interface UsageSample {
  userId: number;
  up: number;
  down: number;
}

/** One point of a usage history: the bucket's start (Unix milliseconds) and its bytes. */
export interface UsagePoint {
  at: number;
  up: number;
  down: number;
}

/** The buckets of the usage history: one minute (kept a day) or one UTC day (kept 90 days). */
export type UsageResolution = "minute" | "day";

/** The bucket of each history resolution holding a time: its minute, its UTC day. */
export const HISTORY_BUCKET_MS: Readonly<Record<UsageResolution, number>> = Object.freeze({
  minute: 60_000,
  day: 86_400_000,
});

/** How long each resolution of the usage history is kept. */
export const HISTORY_RETENTION_MS: Readonly<Record<UsageResolution, number>> = Object.freeze({
  minute: 24 * 3600_000,
  day: 90 * 24 * 3600_000,
});

/**
 * A user's subscription as stored: the hex SHA-256 of its token and the user's password sealed
 * with a key only the token gives (`lib/remote/share/subscription_token.ts`).
 */
export interface StoredSubscription {
  key: string;
  sealedPassword: string;
}

/**
 * Which node wrote a batch of usage, and its sequence number there: a store applies a batch
 * only when its number is above the last one applied for that node, so a batch retried after
 * a lost commit reply is counted once.
 */
export interface UsageBatch {
  node: string;
  seq: number;
}

/** The admin account's password hash, and a stamp that moves on each change or unlock. */
export interface AdminAccount {
  hash: string;
  stamp: number;
}

/** Thrown for requests the store refuses: a duplicate or unknown user name. */
export class UserError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "UserError";
  }
}

/**
 * Thrown by {@linkcode UserStore.addUsage} when the database refused the batch for what it
 * holds (a value out of range, a NULL where none may be), not because it was unreachable:
 * sending the same batch again cannot succeed.
 */
export class UsageRefusedError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "UsageRefusedError";
  }
}

/** Thrown by {@linkcode UserStore.migrate} for a database written by a newer program. */
export class SchemaVersionError extends Error {
  constructor(found: number, known: number) {
    super(`the database has schema version ${found}, newer than this program's ${known}`);
    this.name = "SchemaVersionError";
  }
}

/**
 * Where users are kept. Every method may reject with the backend's own error (a locked or
 * unreachable database) besides the ones named.
 *
 * @example
 * const store = await openSqliteStore("users.db");
 * await store.add("alice", "secret", { downLimit: 2 * 1024 * 1024 });
 * await store.close();
 */
export interface UserStore extends AdminStore {
  /** Creates or upgrades the schema. @throws {SchemaVersionError} when it is newer than ours */
  migrate(): Promise<void>;
  /** The schema version the database is at now. */
  schemaVersion(): Promise<number>;
  /** The user whose stored key (see {@linkcode keyForToken}) this is, or undefined. */
  findByKey(key: string): Promise<User | undefined>;
  /** All users, ordered by name. */
  list(): Promise<User[]>;
  /** One user by name, or undefined. */
  get(name: string): Promise<User | undefined>;
  /** Adds a user. @throws {UserError} when the name is taken or invalid */
  add(name: string, password: string, limits?: UserLimits): Promise<User>;
  /** Changes the given limits; the others keep their values. @throws {UserError} unknown name */
  setLimits(name: string, limits: UserLimits): Promise<User>;
  /** Sets a new password (and so a new key). @throws {UserError} unknown name */
  setPassword(name: string, password: string): Promise<User>;
  /** Enables or disables a user. @throws {UserError} unknown name */
  setEnabled(name: string, enabled: boolean): Promise<User>;
  /** Removes a user. @throws {UserError} unknown name */
  remove(name: string): Promise<void>;
  /**
   * Sets a user's usage back to zero and records `at` as its last reset.
   * @throws {UserError} unknown name
   */
  resetUsage(name: string, at?: number): Promise<User>;
  /**
   * The monthly reset: sets a user's usage back to zero and its last reset to `at`, unless it
   * was reset since `periodStart` (by hand or by another node). True when this call reset it.
   * @throws {UserError} unknown name
   */
  resetUsageForPeriod(name: string, periodStart: number, at: number): Promise<boolean>;
  /**
   * Adds `samples` to the usage history's minute and day buckets holding `at`, and forgets
   * buckets older than {@linkcode HISTORY_RETENTION_MS}, in one transaction.
   */
  addUsageHistory(samples: UsageSample[], at: number): Promise<void>;
  /**
   * A user's usage history (`userId` 0: the whole server) from `since` on, oldest first;
   * buckets with no traffic are left out.
   */
  usageHistory(userId: number, resolution: UsageResolution, since: number): Promise<UsagePoint[]>;
  /**
   * Records that alert `alert` of user `userId` went out for `period` (a value naming the
   * quota period or the expiry date it was about). True when it had not been recorded for that
   * period before: then, and only then, the caller sends it. A removed user's records go too.
   */
  markAlert(userId: number, alert: string, period: string): Promise<boolean>;
  /**
   * Sets (or, with null, revokes) a user's subscription; a new one replaces the old.
   * @throws {UserError} unknown name
   */
  setSubscription(name: string, subscription: StoredSubscription | null): Promise<void>;
  /** The user whose subscription key this is, and the password sealed with it; or undefined. */
  findBySubscriptionKey(
    key: string,
  ): Promise<{ user: User; sealedPassword: string } | undefined>;
  /** The admin panel's password hash, or undefined when no admin account was made. */
  adminPasswordHash(): Promise<string | undefined>;
  /** Sets the admin panel's password hash (see `lib/remote/admin/password_hash.ts`). */
  setAdminPasswordHash(hash: string): Promise<void>;
  /**
   * The admin account as running panels follow it: its password hash and a stamp that moves
   * whenever the password is set or the account unlocked; undefined when there is none.
   */
  adminAccount(): Promise<AdminAccount | undefined>;
  /**
   * Moves the admin account's stamp only (`admin unlock`: panels clear their login
   * cool-offs). False when there is no admin account.
   */
  unlockAdmin(): Promise<boolean>;
  /**
   * Adds counted usage and records open connections, all deltas in one transaction. With a
   * `batch`, nothing is applied when that node's batch `seq` (or a later one) already was:
   * then it answers false, else true.
   * @throws {UsageRefusedError} when the database refuses the deltas themselves
   */
  addUsage(deltas: UsageDelta[], batch?: UsageBatch): Promise<boolean>;
  /** The number of the last usage batch applied for `node`, 0 when none was. */
  lastUsageBatch(node: string): Promise<number>;
  /**
   * An opaque value that differs once a user was added, changed or removed, by this
   * connection or another (or another node), since it was last read; compare it with the one
   * seen last to know whether to re-read the users. Usage written through this connection
   * need not move it.
   */
  changeVersion(): Promise<number | string>;
  /**
   * For a store many nodes share: the users whose usage any node wrote after `mark` (0 at
   * first), with their stored totals, and the mark to pass next time. Usage never moves
   * {@linkcode changeVersion}, so a node follows the others' usage without re-reading every user.
   */
  usageSince?(mark: number): Promise<UsageSince>;
  /**
   * Starts the expiry of a user on hold (`--expires-after`) at its first login `at`: sets its
   * expiry to `at` plus its duration, unless another login (on any node) started it first.
   * True when this call started it.
   */
  startExpiry(id: number, at: number): Promise<boolean>;
  /** Records when each user was last seen from each address; forgets what is older than 30 days. */
  seenSources(seen: SeenSource[]): Promise<void>;
  /** The addresses each user was seen from, newest first, by user id. */
  sources(): Promise<Map<number, { source: string; at: number }[]>>;
  /** The names of the users in `group`, ordered. */
  groupMembers(group: string): Promise<string[]>;
  /** Every template, by name. */
  templates(): Promise<Template[]>;
  /**
   * Creates (`create`) or changes a template; the limits given replace those stored, the
   * others stay. @throws {UserError} for a taken (create) or unknown name
   */
  saveTemplate(name: string, limits: UserLimits, create: boolean): Promise<Template>;
  /** Removes a template. @throws {UserError} unknown name */
  removeTemplate(name: string): Promise<void>;
  /** Releases the connection. */
  close(): Promise<void>;
}

/** How long the addresses a user was seen from are kept. */
export const SOURCES_KEPT_MS = 30 * 86_400_000;

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
 * Why `name` cannot be added beside `existing`, a name already stored that equals it but for
 * case (`alice`, `ALICE`): two such users would read as one in every list and log.
 */
export function caseTwinRefusal(name: string, existing: string): UserError {
  return new UserError(
    `user "${existing}" already exists; "${name}" differs from it only in case: choose another name`,
  );
}

/** What a user name may be, in the words of every refusal. */
export const USER_NAME_RULE = 'a user name of 1 to 64 letters, digits, "_", ".", "@" or "-"';

/**
 * Checks a user name: 1–64 of letters, digits and `_ . @ -` (no `:`, which separates the
 * password in the credential).
 *
 * @throws {UserError} naming what is allowed
 */
export function checkUserName(name: string): void {
  if (!NAME.test(name)) {
    throw new UserError(`expected ${USER_NAME_RULE}, got "${name}"`);
  }
}

/**
 * Checks a monthly reset day: 0 (none) or 1 to 28, days every month has.
 *
 * @throws {UserError} naming what is allowed
 */
export function checkResetDay(day: number): void {
  if (!Number.isInteger(day) || day < 0 || day > 28) {
    throw new UserError(`expected a reset day from 1 to 28 (0 for none), got ${day}`);
  }
}

/** Rows of `user_id, source, at` as {@linkcode UserStore.sources} answers them. */
export function bySourceUser(
  rows: Record<string, unknown>[],
): Map<number, { source: string; at: number }[]> {
  const map = new Map<number, { source: string; at: number }[]>();
  for (const row of rows) {
    const id = Number(row.user_id);
    const list = map.get(id) ?? [];
    list.push({ source: row.source as string, at: Number(row.at) });
    map.set(id, list);
  }
  return map;
}

/**
 * Checks a template's name and settings as a user's would be checked.
 *
 * @throws {UserError} naming what is wrong
 */
export function checkTemplate(name: string, limits: UserLimits): void {
  checkGroupName(name);
  limitColumns(limits);
}

/**
 * A template's settings after a save: `limits` over those `stored` (JSON), none of them
 * undefined.
 *
 * @throws {UserError} for a template that exists (`create`) or does not (not `create`)
 */
export function mergedTemplate(
  name: string,
  stored: string | undefined,
  limits: UserLimits,
  create: boolean,
): UserLimits {
  if (create && stored !== undefined) throw new UserError(`template "${name}" already exists`);
  if (!create && stored === undefined) throw new UserError(`no template named "${name}"`);
  const given = Object.fromEntries(Object.entries(limits).filter(([, v]) => v !== undefined));
  return { ...(stored === undefined ? {} : JSON.parse(stored)), ...given };
}
