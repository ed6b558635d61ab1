/**
 * The server's live view of the users table: who may connect, their open sessions, and the
 * usage counted since the last flush. Reloaded when the database changes, flushed twice a second.
 */
import { keyForToken } from "../store/user_store.ts";
import type { SeenSource, User, UserStore } from "../store/user_store.ts";
import { TokenBucket } from "./token_bucket.ts";
import type { Meter } from "../../common/net/relay.ts";
import { logger } from "../../common/ops/logging.ts";
import { UsageOutbox } from "../store/usage_spool.ts";
import type { RefusalReason } from "../../protocol/account_status.ts";
import { type BlockList, parseBlockList } from "../../rules/block_list.ts";

const log = logger("remote", "accounts");

/**
 * One open session of an account, as the admin sees it: aborting it closes its relay (a kick,
 * a removal, the panel's "disconnect").
 *
 * @example const session = new TunnelSession("connect", "203.0.113.7:40000", "example.com:443");
 */
export class TunnelSession extends AbortController {
  static #next = 1;
  /** Unique in this process, for the admin API. */
  readonly id = TunnelSession.#next++;
  /** Unix milliseconds. */
  readonly startedAt = Date.now();

  constructor(
    readonly command: "connect" | "udp",
    /** The client's address, `host:port`. */
    readonly client: string,
    /** Where the session goes, `host:port`. */
    readonly destination: string,
  ) {
    super();
  }
}

/**
 * One user as the running server tracks them.
 *
 * Usage has one counter per direction, `sentUp`/`sentDown`, which only the relay's meter
 * moves; everything else is derived from it and two marks: how much of it was handed to the
 * usage outbox (`queued`) and how much of that the store confirmed (`flushed`). So
 * `unflushed` = sent − queued, `pending` = queued − flushed, and the bytes a user has used are
 * the stored ones plus sent − flushed: nothing counted twice, nothing dropped while a batch
 * waits for the database.
 */
export class Account {
  user: User;
  /** Bytes relayed for this user by this process since it started, per direction; never reset. */
  sentUp = 0;
  sentDown = 0;
  /** The part of `sentUp`/`sentDown` handed to the usage outbox. */
  #queuedUp = 0;
  #queuedDown = 0;
  /** The part of the queued bytes the store confirmed (and so are in `user.bytesUp`/`Down`). */
  #flushedUp = 0;
  #flushedDown = 0;
  /** The open connections this server last wrote. */
  flushedConns = 0;
  /** Whether the limit held a connection back since the shared limits last looked. */
  waitedUp = false;
  waitedDown = false;
  /** This user's connections open on other nodes, as of their last heartbeat. */
  remoteConns = 0;
  /** This node's share of the user's limits (1 on a single node; see shared_limits.ts). */
  #shareUp = 1;
  #shareDown = 1;
  /** The last tunnel refused for this user on this server, for the status document. */
  lastRefusal: { reason: RefusalReason; destination: string; at: number } | null = null;
  /** Aborting a session's controller closes its relay (a {@linkcode TunnelSession} says more). */
  readonly sessions: Set<AbortController> = new SessionSet(() => this.onActivity?.(this));
  /** Called when this account's first session here opens or its last one closes. */
  onActivity: ((account: Account) => void) | undefined;
  /** The user's rate limits, shared by all of their connections. */
  readonly upBucket: TokenBucket;
  readonly downBucket: TokenBucket;
  /** The relay meters every session of this user shares: count, limit, stop at the quota. */
  readonly up: Meter;
  readonly down: Meter;
  /** The user's own block list (`user set NAME --block FILE`), parsed; null when none. */
  blockList: BlockList | null = null;
  /** The text `blockList` was parsed from. */
  #blockText: string | undefined;
  /** Connections and datagrams refused by a block since this process started, by reason. */
  readonly blockedCounts = new Map<string, number>();
  /**
   * The addresses (`sourceKey`: an IPv6 /64 as one) this user's tunnels come from here, with
   * how many tunnels each has open.
   */
  readonly #sources = new Map<string, number>();
  /** The addresses this user's tunnels come from on the other nodes, as of their last beat. */
  remoteSources: ReadonlySet<string> = new Set();
  /** When each address was last written to the store as seen (`user list --json`). */
  readonly #seenWritten = new Map<string, number>();

  constructor(user: User) {
    this.user = user;
    this.upBucket = new TokenBucket(user.upLimit);
    this.downBucket = new TokenBucket(user.downLimit);
    this.up = meter(this.upBucket, () => this.waitedUp = true, (n) => {
      this.sentUp += n;
      if (this.user.quota > 0) this.#checkQuota();
    });
    this.down = meter(this.downBucket, () => this.waitedDown = true, (n) => {
      this.sentDown += n;
      if (this.user.quota > 0) this.#checkQuota();
    });
  }

  /** Bytes counted and not yet handed to the outbox, per direction. */
  get unflushedUp(): number {
    return this.sentUp - this.#queuedUp;
  }

  get unflushedDown(): number {
    return this.sentDown - this.#queuedDown;
  }

  /** Bytes in the outbox, not yet confirmed by the store, per direction. */
  get pendingUp(): number {
    return this.#queuedUp - this.#flushedUp;
  }

  get pendingDown(): number {
    return this.#queuedDown - this.#flushedDown;
  }

  /** Bytes used so far, stored or still on their way there, per direction. */
  get usedUp(): number {
    return this.user.bytesUp + this.sentUp - this.#flushedUp;
  }

  get usedDown(): number {
    return this.user.bytesDown + this.sentDown - this.#flushedDown;
  }

  /** Records that `up` and `down` of the unflushed bytes were handed to the outbox. */
  queued(up: number, down: number): void {
    this.#queuedUp += up;
    this.#queuedDown += down;
  }

  /** Records that `up` and `down` of the pending bytes were written to the store. */
  flushed(up: number, down: number): void {
    this.#flushedUp += up;
    this.#flushedDown += down;
    this.user.bytesUp += up;
    this.user.bytesDown += down;
  }

  /** Takes the store's totals (every node's usage written so far, this one's flushed part too). */
  stored(up: number, down: number): void {
    this.user.bytesUp = up;
    this.user.bytesDown = down;
  }

  /** Counts one connection or datagram refused by a block (`server_list`, `bittorrent`, …). */
  blocked(reason: string): void {
    this.blockedCounts.set(reason, (this.blockedCounts.get(reason) ?? 0) + 1);
  }

  /** Takes a fresh copy of the user's row; new limits apply to open connections at once. */
  update(user: User): void {
    if (user.blockList !== this.#blockText) {
      this.#blockText = user.blockList;
      this.blockList = userBlockList(user);
    }
    this.user = user;
    this.upBucket.rate = shareOfLimit(user.upLimit, this.#shareUp);
    this.downBucket.rate = shareOfLimit(user.downLimit, this.#shareDown);
  }

  /**
   * Sets this node's share (0 to 1) of the user's limits, for the nodes that share them, and
   * how many seconds of it the buckets may hold (see {@linkcode TokenBucket.burst}).
   */
  setShare(up: number, down: number, burst = 1): void {
    this.#shareUp = up;
    this.#shareDown = down;
    this.upBucket.burst = this.downBucket.burst = burst;
    this.update(this.user);
  }

  /** The addresses with a tunnel of this user open here. */
  get localSources(): string[] {
    return [...this.#sources.keys()];
  }

  /** The distinct addresses this user has tunnels open from, here and on the other nodes. */
  places(): Set<string> {
    return new Set([...this.#sources.keys(), ...this.remoteSources]);
  }

  /**
   * Counts a tunnel from `source` (a `sourceKey`) for the device limit until the returned
   * function is called.
   */
  claim(source: string): () => void {
    const count = this.#sources.get(source) ?? 0;
    this.#sources.set(source, count + 1);
    // Another address here: the other nodes hear of it at once (the device limit).
    if (count === 0) this.onActivity?.(this);
    let released = false;
    return () => {
      if (released) return;
      released = true;
      const left = (this.#sources.get(source) ?? 1) - 1;
      if (left > 0) return void this.#sources.set(source, left);
      this.#sources.delete(source);
      this.onActivity?.(this);
      // Written once more as it closes: its last-seen time is when it left.
      this.#seenWritten.delete(source);
      this.#closedSeen.set(source, Date.now());
    };
  }

  /**
   * The addresses to write as seen at `now`: those open here not written within `everyMs`,
   * and those closed since they were last written.
   */
  seenDue(now: number, everyMs: number): SeenSource[] {
    const due: SeenSource[] = [];
    for (const source of this.#sources.keys()) {
      if (now - (this.#seenWritten.get(source) ?? -Infinity) < everyMs) continue;
      this.#seenWritten.set(source, now);
      due.push({ userId: this.user.id, source, at: now });
    }
    for (const [source, at] of this.#closedSeen) due.push({ userId: this.user.id, source, at });
    this.#closedSeen.clear();
    return due;
  }

  /** Addresses whose last tunnel here closed, with when, to write once. */
  readonly #closedSeen = new Map<string, number>();

  /** How many other places (addresses) use this account now, besides `source`. */
  otherPlaces(source: string): number {
    const places = this.places();
    places.delete(source);
    return places.size;
  }

  #checkQuota(): void {
    if (this.used >= this.user.quota && this.sessions.size > 0) this.closeAll("over quota");
  }

  /** Bytes used so far in both directions, stored or not. */
  get used(): number {
    return this.usedUp + this.usedDown;
  }

  /**
   * Why this account may not open a new connection now, or null when it may. `defaultMaxConns`
   * is the connection limit of a user without one of its own (`serve --user-max-conns`; 0: none).
   * With `source` (a `sourceKey`), a new address beyond the user's `maxIps` is refused too.
   */
  refusal(now = Date.now(), defaultMaxConns = 0, source?: string): Refusal | null {
    const u = this.user;
    if (!u.enabled) return "disabled";
    if (u.expiresAt !== null && now >= u.expiresAt) return "expired";
    if (u.quota > 0 && this.used >= u.quota) return "over quota";
    const maxConns = u.maxConns || defaultMaxConns;
    if (maxConns > 0 && this.sessions.size + this.remoteConns >= maxConns) {
      return "too many connections";
    }
    if (source !== undefined && u.maxIps && !this.places().has(source)) {
      if (this.otherPlaces(source) >= u.maxIps) return "too many places";
    }
    return null;
  }

  /** {@linkcode refusal} as the status document names it. */
  refusalReason(now = Date.now(), defaultMaxConns = 0, source?: string): RefusalReason | null {
    const reason = this.refusal(now, defaultMaxConns, source);
    return reason === null ? null : REFUSAL_REASONS[reason];
  }

  /** Remembers that a tunnel of this user to `destination` was refused, and why. */
  refused(reason: RefusalReason, destination: string): void {
    this.lastRefusal = { reason, destination, at: Date.now() };
  }

  /** Why open connections must close now (not counting the connection limit), or null. */
  eviction(now = Date.now()): string | null {
    const reason = this.refusal(now);
    return reason === "too many connections" ? null : reason;
  }

  /** Closes every open session of this user, logging why. */
  closeAll(reason: string): void {
    if (this.sessions.size === 0) return;
    log.info("closing {count} connection(s) of {user}: {reason}", {
      count: this.sessions.size,
      user: this.user.name,
      reason,
    });
    for (const session of this.sessions) session.abort();
    this.sessions.clear();
  }
}

/** A set of sessions that calls `changed` when it goes from empty to not, or back. */
class SessionSet extends Set<AbortController> {
  readonly #changed: () => void;

  constructor(changed: () => void) {
    super();
    this.#changed = changed;
  }

  override add(session: AbortController): this {
    const was = this.size;
    super.add(session);
    if (was === 0) this.#changed();
    return this;
  }

  override delete(session: AbortController): boolean {
    const had = super.delete(session);
    if (had && this.size === 0) this.#changed();
    return had;
  }

  override clear(): void {
    const was = this.size;
    super.clear();
    if (was > 0) this.#changed();
  }
}

/** Why an account may not connect, in the words of the log, to the status document's. */
const REFUSAL_REASONS = {
  "disabled": "disabled",
  "expired": "expired",
  "over quota": "over-quota",
  "too many connections": "max-conns",
  "too many places": "max-ips",
} as const satisfies Record<string, RefusalReason>;
/** Why an account may not connect, as {@linkcode Account.refusal} says it. */
type Refusal = keyof typeof REFUSAL_REASONS;
/**
 * A user's stored block list, parsed; null when there is none, or (logged) when it no longer
 * parses: the store checks it when it is set, so only another version's list can fail here.
 */
function userBlockList(user: User): BlockList | null {
  if (!user.blockList) return null;
  try {
    return parseBlockList(user.blockList, `the block list of ${user.name}`);
  } catch (error) {
    log.warn("ignoring {error}", { error: (error as Error).message });
    return null;
  }
}

/** A share of a limit as a bucket rate: never 0, which would mean unlimited. */
function shareOfLimit(limit: number, share: number): number {
  return limit === 0 ? 0 : Math.max(1, Math.round(limit * Math.min(1, share)));
}

/**
 * A relay meter that pays for each chunk from `bucket` before it is written and reports it to
 * `count` once written: a client that hangs up is not charged for what never left. `waited`
 * hears of each chunk the limit holds back.
 */
function meter(bucket: TokenBucket, waited: () => void, count: (bytes: number) => void): Meter {
  return {
    take(bytes, signal) {
      const wait = bucket.take(bytes, signal);
      if (wait) waited();
      return wait;
    },
    sent: count,
    get quantum() {
      return bucket.quantum;
    },
  };
}

/** How often an address still in use is written as seen again (`user list --json`). */
const SEEN_EVERY_MS = 30_000;

/** How long a replaced or removed key still counts as known (never sent to the fallback). */
export const RETIRED_KEY_MS = 30 * 24 * 3600_000;
/** Most retired keys remembered at once. */
const RETIRED_KEY_CAP = 100_000;

/**
 * All accounts, indexed by the stored key of their wire token. Reads and writes of the store
 * run one at a time, so a reload never sees a flush half applied. Usage goes to the store
 * through `outbox` (numbered batches for many nodes; see usage_spool.ts).
 *
 * @example
 * const accounts = new Accounts(store);
 * await accounts.reload();
 * const account = accounts.find(token);
 */
export class Accounts {
  readonly #store: UserStore;
  readonly #outbox: UsageOutbox;
  #byId = new Map<number, Account>();
  #byKey = new Map<string, Account>();
  /** Keys replaced by `user passwd` or removed, with when they stop counting as known. */
  readonly #retired = new Map<string, number>();
  #version: number | string | undefined;
  /** How far the usage other nodes wrote was read (see {@linkcode UserStore.usageSince}). */
  #usageMark = 0;
  #queue: Promise<unknown> = Promise.resolve();
  /**
   * Set by a node that shares the limits with others: called with each account made from a
   * user read from here on (its share, before its first connection).
   */
  onCreate: ((account: Account) => void) | undefined;

  constructor(store: UserStore, outbox = new UsageOutbox(store)) {
    this.#store = store;
    this.#outbox = outbox;
  }

  /** The account whose token this is, if any (from the last reload). */
  find(token: string): Account | undefined {
    return this.#byKey.get(keyForToken(token));
  }

  /**
   * Whether `token` is a user's key now or was one within {@linkcode RETIRED_KEY_MS} (a
   * password changed or a user removed while this server ran): a token that must never be
   * handed to a fallback site, whose access log would become a list to crack offline.
   */
  isKnownToken(token: string, now = Date.now()): boolean {
    const key = keyForToken(token);
    if (this.#byKey.has(key)) return true;
    const until = this.#retired.get(key);
    return until !== undefined && now < until;
  }

  #retire(key: string, now = Date.now()): void {
    for (const [old, until] of this.#retired) if (now >= until) this.#retired.delete(old);
    this.#retired.delete(key);
    this.#retired.set(key, now + RETIRED_KEY_MS);
    // Bounded: past the cap the oldest retirements are forgotten first.
    while (this.#retired.size > RETIRED_KEY_CAP) {
      this.#retired.delete(this.#retired.keys().next().value!);
    }
  }

  #serialized<T>(work: () => Promise<T>): Promise<T> {
    const result = this.#queue.then(work);
    this.#queue = result.catch(() => {});
    return result;
  }

  /**
   * Re-reads the users if the store changed since the last time, else only the usage totals
   * that moved (other nodes' traffic). Removed users and changed passwords close their
   * sessions; everyone over a limit is closed too.
   */
  reload(): Promise<void> {
    return this.#serialized(async () => {
      const version = await this.#store.changeVersion();
      if (version !== this.#version) {
        const users = await this.#store.list();
        this.#version = version;
        this.#replace(users);
        log.debug("read {count} users (change {version})", { count: users.length, version });
      } else if (this.#store.usageSince) {
        const { mark, usage } = await this.#store.usageSince(this.#usageMark);
        this.#usageMark = mark;
        for (const u of usage) this.#byId.get(u.id)?.stored(u.bytesUp, u.bytesDown);
      }
      this.enforce();
    });
  }

  #replace(users: User[]): void {
    const byId = new Map<number, Account>();
    for (const user of users) {
      const known = this.#byId.get(user.id);
      if (known && known.user.key !== user.key) {
        known.closeAll("password changed");
        this.#retire(known.user.key);
      }
      const account = known ?? new Account(user);
      if (!known) this.onCreate?.(account);
      account.update(user);
      byId.set(user.id, account);
    }
    for (const [id, account] of this.#byId) {
      if (byId.has(id)) continue;
      account.closeAll("removed");
      this.#retire(account.user.key);
    }
    this.#byId = byId;
    this.#byKey = new Map([...byId.values()].map((a) => [a.user.key, a]));
  }

  /** Closes the sessions of accounts that are disabled, expired or over quota. */
  enforce(now = Date.now()): void {
    for (const account of this.#byId.values()) {
      if (account.sessions.size === 0) continue;
      const reason = account.eviction(now);
      if (reason) account.closeAll(reason);
    }
  }

  /**
   * A successful login of `account` at `now`: an account on hold (`--expires-after`) starts its
   * expiry here at once, and in the store (where the first node to write it wins).
   */
  loggedIn(account: Account, now = Date.now()): void {
    const after = account.user.expiresAfter;
    if (after === undefined) return;
    const { expiresAfter: _, ...user } = account.user;
    account.user = { ...user, expiresAt: now + after };
    log.info("{user} logged in for the first time: access until {until}", {
      user: user.name,
      until: new Date(now + after).toISOString(),
    });
    this.#serialized(() => this.#store.startExpiry(user.id, now)).catch((error) =>
      log.warn("could not start the expiry of {user}: {error}", { user: user.name, error })
    );
  }

  /** Closes every open session of every user. */
  closeAll(reason: string): void {
    for (const account of this.#byId.values()) account.closeAll(reason);
  }

  /**
   * Writes counted usage and open connection counts in one transaction. Usage the store does
   * not take now stays in the outbox (and counts towards quotas) for the next flush.
   */
  flush(): Promise<void> {
    return this.#serialized(async () => {
      const deltas = [];
      for (const a of this.#byId.values()) {
        const { unflushedUp: up, unflushedDown: down } = a;
        if (!up && !down && a.sessions.size === a.flushedConns) continue;
        deltas.push({ id: a.user.id, up, down, openConns: a.sessions.size });
        a.queued(up, down);
        a.flushedConns = a.sessions.size;
      }
      this.#outbox.add(deltas);
      await this.#writeSeen();
      if (this.#outbox.pending === 0) return;
      for (const { deltas, restored } of await this.#outbox.deliver()) {
        if (restored) continue; // a previous run's: counted in no account here
        for (const delta of deltas) this.#byId.get(delta.id)?.flushed(delta.up, delta.down);
      }
    });
  }

  /** Every account, in no order (from the last reload). */
  all(): IterableIterator<Account> {
    return this.#byId.values();
  }

  /** Writes the addresses users were seen from; a failure waits for the next flush. */
  async #writeSeen(): Promise<void> {
    const now = Date.now();
    const seen = [...this.#byId.values()].flatMap((a) => a.seenDue(now, SEEN_EVERY_MS));
    if (seen.length === 0) return;
    await this.#store.seenSources(seen).catch((error) =>
      log.warn("could not write the addresses users were seen from: {error}", { error })
    );
  }

  /** Every account, ordered by user name (from the last reload). */
  list(): Account[] {
    return [...this.#byId.values()].sort((a, b) => a.user.name < b.user.name ? -1 : 1);
  }

  /** The account of user `name`, if any (from the last reload). */
  byName(name: string): Account | undefined {
    for (const account of this.#byId.values()) if (account.user.name === name) return account;
    return undefined;
  }

  /** Total open sessions across accounts. */
  get openSessions(): number {
    let total = 0;
    for (const account of this.#byId.values()) total += account.sessions.size;
    return total;
  }
}
