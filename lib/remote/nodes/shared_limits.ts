/**
 * One rate limit across nodes: every second each node measures, per user, what it moved and
 * whether the limit held it back, and takes its share of the user's limit from everyone's
 * demand (max-min fair: a node that needs less gets what it needs, the rest is split among
 * those held back). Every node computes from the same reports, so the shares sum to the
 * limit. The other nodes' open connections count towards the user's `max-conns` here too, and
 * the addresses their tunnels come from towards its `max-ips`.
 */
import type { Account, Accounts } from "../users/accounts.ts";
import type { PeerLoad, UserLoad } from "../store/node_registry.ts";

/** A node not held back is given this much more than it used, room to grow into. */
const HEADROOM = 1.5;

/** One node's demand for one user's limit in one direction. */
export interface Demand {
  /** Bytes per second moved over the last beat. */
  rate: number;
  /** The node's share held a connection back: it would take more. */
  hungry: boolean;
  /** The node has the user's connections open or traffic. */
  active: boolean;
}

/**
 * This node's share of `limit` (bytes/s), given its demand and the other nodes', of `nodes`
 * alive. An idle node keeps an equal slot for a connection that may come: one of the active
 * nodes' plus its own, or, while the user is idle everywhere, an even split among all nodes
 * (so a burst through all of them at once starts at the limit, not at a limit per node). A
 * lone active node gets all of it.
 *
 * @example shareOf(2_000_000, { rate: 0, hungry: true, active: true }, []) // 2_000_000
 */
export function shareOf(limit: number, mine: Demand, others: Demand[], nodes = 1): number {
  const active = others.filter((d) => d.active);
  if (!mine.active) return limit / (active.length > 0 ? active.length + 1 : Math.max(1, nodes));
  const all = [mine, ...active];
  const wants = all.map((d) => d.hungry ? Infinity : d.rate * HEADROOM);
  const order = wants.map((_, i) => i).sort((a, b) => wants[a]! - wants[b]!);
  const given = new Array<number>(all.length).fill(0);
  let left = limit;
  order.forEach((i, k) => {
    const share = Math.min(wants[i]!, left / (all.length - k));
    given[i] = share;
    left -= share;
  });
  // Nobody wants the rest now: split it evenly, so the shares still sum to the limit.
  return given[0]! + left / all.length;
}

/**
 * Seconds of its share a node's bucket holds while the user has connections there and other
 * nodes are alive: every node's burst together is at most this much of the limit (while idle
 * the buckets hold nothing), so any 2 s window stays within 1.05× the limit. One node alone
 * keeps the single server's second.
 */
export const SHARED_BURST_S = 0.1;
/**
 * A node's rates are measured over at least this long; a beat sooner (another node's news)
 * reports the last measure again.
 */
const MIN_MEASURE_MS = 200;

/** What {@linkcode SharedLimits.measure} remembers of one account. */
interface Measured {
  up: number;
  down: number;
  at: number;
  /** The load last reported (only users with connections here have one). */
  load: UserLoad;
}

/**
 * Measures this node's load per user and applies the shares computed from everyone's.
 *
 * @example
 * const limits = new SharedLimits(accounts);
 * limits.onActivity(() => beatNow());
 * const mine = limits.measure();
 * const { peers, nodesAlive } = await registry.heartbeat({ ...beat, loads: mine });
 * limits.apply(mine, peers, nodesAlive);
 */
export class SharedLimits {
  readonly #accounts: Accounts;
  #measured = new WeakMap<Account, Measured>();
  /** Nodes alive at the last beat; unknown (0) before it. */
  #nodesAlive = 0;
  #listener: (() => void) | undefined;

  /**
   * Takes over `accounts`' shares: until the first beat says how many nodes share them, every
   * user keeps the whole limit with an empty bucket, and so does each user added later until
   * the next beat gives it its idle share.
   */
  constructor(accounts: Accounts) {
    this.#accounts = accounts;
    accounts.onCreate = (account) => this.#adopt(account);
    for (const account of accounts.all()) this.#adopt(account);
  }

  /** Calls `listener` when a user's first connection on this node opens or its last closes. */
  onActivity(listener: () => void): void {
    this.#listener = listener;
  }

  #adopt(account: Account): void {
    account.onActivity = () => this.#listener?.();
    const idle = 1 / Math.max(1, this.#nodesAlive);
    account.setShare(idle, idle, this.#nodesAlive === 1 ? 1 : 0);
  }

  /**
   * This node's load per user with connections open here, each measured since its last
   * measure (at least {@linkcode MIN_MEASURE_MS} ago, else the last load again); resets the
   * held-back flags. A user whose first connection here just opened reports held back: a new
   * connection wants its share now, before it has moved anything to measure.
   */
  measure(): UserLoad[] {
    const now = performance.now();
    const loads: UserLoad[] = [];
    for (const account of this.#accounts.all()) {
      const last = this.#measured.get(account);
      // A user whose connections here are all closed has no demand here, whatever it moved.
      const sources = account.localSources;
      // A tunnel counts for the device limit on every node: its address goes with the load.
      const withSources = (load: UserLoad): UserLoad =>
        sources.length > 0 ? { ...load, sources } : load;
      if (account.sessions.size === 0 && sources.length === 0) {
        account.waitedUp = account.waitedDown = false;
        if (last) this.#measured.delete(account);
        continue;
      }
      const userId = account.user.id;
      if (last && now - last.at < MIN_MEASURE_MS) {
        loads.push(withSources(last.load));
        continue;
      }
      let load: UserLoad;
      if (!last) {
        load = { userId, rateUp: 0, rateDown: 0, hungryUp: true, hungryDown: true };
      } else {
        const seconds = (now - last.at) / 1000;
        load = {
          userId,
          rateUp: Math.round((account.sentUp - last.up) / seconds),
          rateDown: Math.round((account.sentDown - last.down) / seconds),
          hungryUp: account.waitedUp,
          hungryDown: account.waitedDown,
        };
      }
      account.waitedUp = account.waitedDown = false;
      this.#measured.set(account, { up: account.sentUp, down: account.sentDown, at: now, load });
      loads.push(withSources(load));
    }
    return loads;
  }

  /**
   * Sets every account's share of its limits, its buckets' burst and the connections open on
   * other nodes, of `nodesAlive` nodes (this one included).
   */
  apply(mine: UserLoad[], peers: PeerLoad[], nodesAlive = 1): void {
    this.#nodesAlive = nodesAlive;
    const own = new Map(mine.map((l) => [l.userId, l]));
    const others = new Map<number, PeerLoad[]>();
    for (const peer of peers) {
      const list = others.get(peer.userId);
      if (list) list.push(peer);
      else others.set(peer.userId, [peer]);
    }
    // A peer that reports demand or open connections is active there.
    const peerActive = (p: PeerLoad) =>
      p.openConns > 0 || p.rateUp > 0 || p.rateDown > 0 || p.hungryUp || p.hungryDown;
    for (const account of this.#accounts.all()) {
      const id = account.user.id;
      const theirs = others.get(id) ?? [];
      const load = own.get(id);
      const activeHere = account.sessions.size > 0;
      account.remoteConns = theirs.reduce((sum, p) => sum + p.openConns, 0);
      account.remoteSources = new Set(theirs.flatMap((p) => p.sources ?? []));
      const share = (limit: number, dir: "Up" | "Down") =>
        limit === 0 ? 1 : shareOf(
          limit,
          {
            rate: load?.[`rate${dir}`] ?? 0,
            hungry: load?.[`hungry${dir}`] ?? false,
            active: activeHere,
          },
          theirs.map((p) => ({
            rate: p[`rate${dir}`],
            hungry: p[`hungry${dir}`],
            active: peerActive(p),
          })),
          nodesAlive,
        ) / limit;
      const burst = nodesAlive === 1 ? 1 : activeHere ? SHARED_BURST_S : 0;
      account.setShare(
        share(account.user.upLimit, "Up"),
        share(account.user.downLimit, "Down"),
        burst,
      );
    }
  }
}
