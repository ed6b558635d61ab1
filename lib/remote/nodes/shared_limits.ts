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
  const order = wants.map((_, i) => i).sort((a, b) => wants[a] - wants[b]);
  const given = new Array<number>(all.length).fill(0);
  let left = limit;
  order.forEach((i, k) => {
    given[i] = Math.min(wants[i], left / (all.length - k));
    left -= given[i];
  });
  // Nobody wants the rest now: split it evenly, so the shares still sum to the limit.
  return given[0] + left / all.length;
}

/**
 * Measures this node's load per user and applies the shares computed from everyone's.
 *
 * @example
 * const limits = new SharedLimits(accounts);
 * const mine = limits.measure();
 * const { peers, nodesAlive } = await registry.heartbeat({ ...beat, loads: mine });
 * limits.apply(mine, peers, nodesAlive);
 */
export class SharedLimits {
  readonly #accounts: Accounts;
  #last = performance.now();
  /** What each account had moved at the last measure. */
  #moved = new WeakMap<Account, { up: number; down: number }>();

  constructor(accounts: Accounts) {
    this.#accounts = accounts;
  }

  /**
   * This node's load per user with connections open here, since the last call; resets the
   * held-back flags.
   */
  measure(): UserLoad[] {
    const now = performance.now();
    const seconds = Math.max(0.001, (now - this.#last) / 1000);
    this.#last = now;
    const loads: UserLoad[] = [];
    for (const account of this.#accounts.list()) {
      const before = this.#moved.get(account) ?? { up: account.sentUp, down: account.sentDown };
      const up = account.sentUp - before.up;
      const down = account.sentDown - before.down;
      this.#moved.set(account, { up: account.sentUp, down: account.sentDown });
      const hungryUp = account.waitedUp;
      const hungryDown = account.waitedDown;
      account.waitedUp = account.waitedDown = false;
      // A user whose connections here are all closed has no demand here, whatever it moved.
      const sources = account.localSources;
      if (account.sessions.size === 0 && sources.length === 0) continue;
      loads.push({
        userId: account.user.id,
        rateUp: Math.round(up / seconds),
        rateDown: Math.round(down / seconds),
        hungryUp,
        hungryDown,
        ...(sources.length > 0 ? { sources } : {}),
      });
    }
    return loads;
  }

  /**
   * Sets every account's share of its limits and the connections open on other nodes, of
   * `nodesAlive` nodes (this one included).
   */
  apply(mine: UserLoad[], peers: PeerLoad[], nodesAlive = 1): void {
    const own = new Map(mine.map((l) => [l.userId, l]));
    const others = new Map<number, PeerLoad[]>();
    for (const peer of peers) {
      const list = others.get(peer.userId);
      if (list) list.push(peer);
      else others.set(peer.userId, [peer]);
    }
    for (const account of this.#accounts.list()) {
      const id = account.user.id;
      const theirs = others.get(id) ?? [];
      const load = own.get(id);
      const activeHere = account.sessions.size > 0;
      const demand = (rate: number, hungry: boolean, active: boolean): Demand => ({
        rate,
        hungry,
        active,
      });
      const peerActive = (p: PeerLoad) => p.openConns > 0 || p.rateUp > 0 || p.rateDown > 0;
      account.remoteConns = theirs.reduce((sum, p) => sum + p.openConns, 0);
      account.remoteSources = new Set(theirs.flatMap((p) => p.sources ?? []));
      const share = (limit: number, dir: "Up" | "Down") =>
        limit === 0 ? 1 : shareOf(
          limit,
          demand(load?.[`rate${dir}`] ?? 0, load?.[`hungry${dir}`] ?? false, activeHere),
          theirs.map((p) => demand(p[`rate${dir}`], p[`hungry${dir}`], peerActive(p))),
          nodesAlive,
        ) / limit;
      account.setShare(share(account.user.upLimit, "Up"), share(account.user.downLimit, "Down"));
    }
  }
}
