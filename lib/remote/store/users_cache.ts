/**
 * Serving through a database outage: {@linkcode StoreHealth} says once that the shared store
 * is gone and once that it is back, and {@linkcode CachedStore} answers the server's reads
 * from the last users it saw (kept in a cache file too, so a node can restart during the
 * outage) while the store does not answer.
 */
import type {
  AdminChange,
  AdminRecord,
  AuditEntry,
  AuditQuery,
  TokenRecord,
} from "./admin_store.ts";
import { dirname } from "node:path";
import { logger } from "../../common/ops/logging.ts";
import { redactUrl } from "./store_url.ts";
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

const log = logger("remote", "store");

/** Writes of the cache file at most this often (a user's limits rarely change faster). */
const CACHE_WRITE_MS = 2000;

/**
 * Whether the store answers, logged on each change only (not per connection or per retry).
 *
 * @example
 * const health = new StoreHealth("postgres://node:***@db/swiftproxy");
 * health.down(error); // logs once
 * health.up(); // logs "reachable again" once
 */
export class StoreHealth {
  readonly #where: string;
  #down = false;

  /** @param where the store, as people see it (a URL without its password) */
  constructor(where: string) {
    this.#where = redactUrl(where);
  }

  /** True while the store does not answer. */
  get isDown(): boolean {
    return this.#down;
  }

  /** The store failed to answer. */
  down(error: unknown): void {
    if (this.#down) return;
    this.#down = true;
    log.warn(
      "the users database {db} is unreachable ({error}): serving the users already known with " +
        "their last limits; usage is kept (memory and spool) until it returns",
      { db: this.#where, error: redactUrl(String((error as Error)?.message ?? error)) },
    );
  }

  /** The store answered. */
  up(): void {
    if (!this.#down) return;
    this.#down = false;
    log.info("the users database {db} is reachable again", { db: this.#where });
  }
}

/** The users last read, as the cache file holds them. */
interface CacheFile {
  cache: 1;
  users: User[];
}

/** The users in a cache file, or undefined when there is none. */
export function readUsersCache(path: string): User[] | undefined {
  try {
    const parsed = JSON.parse(Deno.readTextFileSync(path)) as CacheFile;
    return parsed.cache === 1 && Array.isArray(parsed.users) ? parsed.users : undefined;
  } catch {
    return undefined;
  }
}

/**
 * A {@linkcode UserStore} whose reads of users fall back to the last answer when the store
 * fails; writes go through (and fail) as they are.
 *
 * @example
 * const store = new CachedStore(await openStoreAt(location), health, "data/users-cache.json");
 */
export class CachedStore implements UserStore {
  readonly #inner: UserStore;
  readonly #health: StoreHealth;
  readonly #path: string | undefined;
  #users: User[] | undefined;
  /** The version last answered; "cache" until the store first answers. */
  #version: number | string = "cache";
  /** The admin password hash last read (memory only), so the panel still opens in an outage. */
  #adminHash: string | undefined;
  /** The admins last read (memory only), for the same reason. */
  #admins: AdminRecord[] | undefined;
  #written = 0;

  /** @param path the cache file (JSON, mode 0600), read now if it exists */
  constructor(inner: UserStore, health: StoreHealth, path?: string) {
    this.#inner = inner;
    this.#health = health;
    this.#path = path;
    this.#users = path ? readUsersCache(path) : undefined;
  }

  async #read<T>(work: () => Promise<T>, fallback: () => T): Promise<T> {
    try {
      const result = await work();
      this.#health.up();
      return result;
    } catch (error) {
      this.#health.down(error);
      return fallback();
    }
  }

  changeVersion(): Promise<number | string> {
    // While the store is down, the version seen last: nothing to re-read.
    return this.#read(
      async () => this.#version = await this.#inner.changeVersion(),
      () => this.#version,
    );
  }

  list(): Promise<User[]> {
    return this.#read(async () => {
      const users = await this.#inner.list();
      this.#users = users;
      this.#save();
      return users;
    }, () => this.#users ?? []); // nothing cached: new users wait for the store
  }

  usageSince(mark: number): Promise<UsageSince> {
    const inner = this.#inner;
    if (!inner.usageSince) return Promise.resolve({ mark, usage: [] });
    return this.#read(async () => {
      const since = await inner.usageSince!(mark);
      if (since.usage.length > 0 && this.#users) {
        // The cache keeps the totals too, for a restart during an outage.
        const moved = new Map(since.usage.map((u) => [u.id, u]));
        this.#users = this.#users.map((u) => {
          const m = moved.get(u.id);
          return m ? { ...u, bytesUp: m.bytesUp, bytesDown: m.bytesDown } : u;
        });
        this.#save();
      }
      return since;
    }, () => ({ mark, usage: [] }));
  }

  #save(): void {
    if (!this.#path || Date.now() - this.#written < CACHE_WRITE_MS) return;
    this.#written = Date.now();
    const file: CacheFile = { cache: 1, users: this.#users! };
    try {
      Deno.mkdirSync(dirname(this.#path), { recursive: true, mode: 0o700 });
      Deno.writeTextFileSync(`${this.#path}.tmp`, JSON.stringify(file), { mode: 0o600 });
      Deno.renameSync(`${this.#path}.tmp`, this.#path);
    } catch {
      // A read-only or full disk: the cache in memory still serves this run.
    }
  }

  findByKey(key: string): Promise<User | undefined> {
    return this.#read(
      () => this.#inner.findByKey(key),
      () => this.#users?.find((u) => u.key === key),
    );
  }

  get(name: string): Promise<User | undefined> {
    return this.#read(() => this.#inner.get(name), () => this.#users?.find((u) => u.name === name));
  }

  migrate(): Promise<void> {
    return this.#inner.migrate();
  }
  schemaVersion(): Promise<number> {
    return this.#inner.schemaVersion();
  }
  add(name: string, password: string, limits?: UserLimits): Promise<User> {
    return this.#inner.add(name, password, limits);
  }
  setLimits(name: string, limits: UserLimits): Promise<User> {
    return this.#inner.setLimits(name, limits);
  }
  setPassword(name: string, password: string): Promise<User> {
    return this.#inner.setPassword(name, password);
  }
  setEnabled(name: string, enabled: boolean): Promise<User> {
    return this.#inner.setEnabled(name, enabled);
  }
  remove(name: string): Promise<void> {
    return this.#inner.remove(name);
  }
  resetUsage(name: string, at?: number): Promise<User> {
    return this.#inner.resetUsage(name, at);
  }
  resetUsageForPeriod(name: string, periodStart: number, at: number): Promise<boolean> {
    return this.#inner.resetUsageForPeriod(name, periodStart, at);
  }
  addUsageHistory(samples: UsageSample[], at: number): Promise<void> {
    return this.#inner.addUsageHistory(samples, at);
  }
  usageHistory(userId: number, resolution: UsageResolution, since: number): Promise<UsagePoint[]> {
    return this.#inner.usageHistory(userId, resolution, since);
  }
  markAlert(userId: number, alert: string, period: string): Promise<boolean> {
    return this.#inner.markAlert(userId, alert, period);
  }
  setSubscription(name: string, subscription: StoredSubscription | null): Promise<void> {
    return this.#inner.setSubscription(name, subscription);
  }
  findBySubscriptionKey(
    key: string,
  ): Promise<{ user: User; sealedPassword: string } | undefined> {
    return this.#inner.findBySubscriptionKey(key);
  }
  adminPasswordHash(): Promise<string | undefined> {
    return this.#read(
      async () => this.#adminHash = await this.#inner.adminPasswordHash(),
      () => this.#adminHash,
    );
  }
  setAdminPasswordHash(hash: string): Promise<void> {
    return this.#inner.setAdminPasswordHash(hash);
  }
  adminAccount(): Promise<AdminAccount | undefined> {
    return this.#inner.adminAccount();
  }
  unlockAdmin(): Promise<boolean> {
    return this.#inner.unlockAdmin();
  }
  admins(): Promise<AdminRecord[]> {
    return this.#read(
      async () => this.#admins = await this.#inner.admins(),
      () => this.#admins ?? [],
    );
  }
  putAdmin(name: string, change: AdminChange): Promise<void> {
    return this.#inner.putAdmin(name, change);
  }
  removeAdmin(name: string): Promise<boolean> {
    return this.#inner.removeAdmin(name);
  }
  useRecoveryCode(name: string, codeHash: string): Promise<boolean> {
    return this.#inner.useRecoveryCode(name, codeHash);
  }
  addToken(token: TokenRecord): Promise<void> {
    return this.#inner.addToken(token);
  }
  tokens(): Promise<TokenRecord[]> {
    return this.#inner.tokens();
  }
  findToken(key: string): Promise<TokenRecord | undefined> {
    return this.#inner.findToken(key);
  }
  touchToken(name: string, at: number): Promise<void> {
    return this.#inner.touchToken(name, at);
  }
  revokeToken(name: string): Promise<boolean> {
    return this.#inner.revokeToken(name);
  }
  addAudit(entry: AuditEntry): Promise<void> {
    return this.#inner.addAudit(entry);
  }
  auditLog(query?: AuditQuery): Promise<AuditEntry[]> {
    return this.#inner.auditLog(query);
  }
  addUsage(deltas: UsageDelta[], batch?: UsageBatch): Promise<boolean> {
    return this.#inner.addUsage(deltas, batch);
  }
  lastUsageBatch(node: string): Promise<number> {
    return this.#inner.lastUsageBatch(node);
  }
  startExpiry(id: number, at: number): Promise<boolean> {
    return this.#inner.startExpiry(id, at);
  }
  seenSources(seen: SeenSource[]): Promise<void> {
    return this.#inner.seenSources(seen);
  }
  sources(): Promise<Map<number, { source: string; at: number }[]>> {
    return this.#inner.sources();
  }
  groupMembers(group: string): Promise<string[]> {
    return this.#inner.groupMembers(group);
  }
  templates(): Promise<Template[]> {
    return this.#inner.templates();
  }
  saveTemplate(name: string, limits: UserLimits, create: boolean): Promise<Template> {
    return this.#inner.saveTemplate(name, limits, create);
  }
  removeTemplate(name: string): Promise<void> {
    return this.#inner.removeTemplate(name);
  }
  close(): Promise<void> {
    return this.#inner.close();
  }
}
