/**
 * Many nodes on one shared store: what a node tells the others every second (its heartbeat,
 * with each active user's rate and whether the limit held it back) and what it learns from
 * them (their users' connections and demand). {@linkcode NodeLink} runs the beat: it registers
 * the node, beats every second, hands the peers' loads to the shared limits, and reacts to
 * NOTIFY at once.
 */
import { logger } from "../../common/ops/logging.ts";
import type { Accounts } from "../users/accounts.ts";
import type { SharedLimits } from "./shared_limits.ts";
import type { StoreHealth } from "../store/users_cache.ts";
import { NODE_ALIVE_MS } from "../store/node_registry.ts";
import type { NodeBeat, NodeRegistry } from "../store/node_registry.ts";

const log = logger("remote", "nodes");

/** How often a node beats. */
export const BEAT_MS = 1000;
/**
 * How often a node looks for users it reported busy whose connections here all closed, or
 * users it did not report who opened one: it then beats at once, so the shares follow within
 * a beat, not two.
 */
const IDLE_CHECK_MS = 100;

/** Thrown by {@linkcode NodeLink.start} when a node of the same name is running. */
export class NodeNameTaken extends Error {
  constructor(name: string, seenMsAgo: number) {
    super(
      `node "${name}" is already running (its last heartbeat was ${seenMsAgo} ms ago); ` +
        "give each node its own --node NAME",
    );
    this.name = "NodeNameTaken";
  }
}

/** What a {@linkcode NodeLink} needs. */
export interface NodeLinkOptions {
  name: string;
  listen: string;
  version: string;
  registry: NodeRegistry;
  accounts: Accounts;
  limits: SharedLimits;
  health: StoreHealth;
}

/**
 * A node's link to the others: register, beat every second, apply the shared limits.
 *
 * @example
 * const link = await NodeLink.start({ name: "eu-1", listen, version, registry, accounts, limits, health });
 * await link.stop();
 */
export class NodeLink {
  readonly #options: NodeLinkOptions;
  readonly #startedAt = Date.now();
  #timer: ReturnType<typeof setInterval> | undefined;
  #round: Promise<void> | null = null;
  #unlisten: (() => Promise<void>) | undefined;
  #registered = false;
  #idleCheck: ReturnType<typeof setInterval> | undefined;
  /** Users this node reported load for at its last beat, with how many addresses. */
  #reported = new Map<number, number>();

  private constructor(options: NodeLinkOptions) {
    this.#options = options;
  }

  /**
   * Registers the node (if the store is reachable; else at the first beat that reaches it),
   * subscribes to changes, and starts beating.
   *
   * @throws {NodeNameTaken} when another run of this node name keeps beating
   */
  static async start(options: NodeLinkOptions): Promise<NodeLink> {
    const link = new NodeLink(options);
    await link.#register(true);
    link.#timer = setInterval(() => link.#tick(), BEAT_MS);
    link.#idleCheck = setInterval(() => link.#beatIfIdle(), IDLE_CHECK_MS);
    return link;
  }

  /** Registers; a run of the same name that is alive gets a few seconds to stop beating. */
  async #register(first: boolean): Promise<void> {
    const o = this.#options;
    const deadline = Date.now() + NODE_ALIVE_MS + 1000;
    try {
      for (;;) {
        const other = await o.registry.register(this.#beat(false));
        if (!other) break;
        if (!first || Date.now() > deadline) throw new NodeNameTaken(o.name, other.seenMsAgo);
        await new Promise((r) => setTimeout(r, 500));
      }
      this.#registered = true;
      o.health.up();
      this.#unlisten ??= await o.registry.onChange(() => {
        o.accounts.reload().catch(() => {});
      });
    } catch (error) {
      if (error instanceof NodeNameTaken) throw error;
      o.health.down(error);
    }
  }

  /**
   * Beats at once when a user reported busy here has no connection left (the others take over
   * the share), or a user not reported has one (this node takes more than an idle slot), or
   * a user's tunnels here come from another number of addresses (the device limit).
   */
  #beatIfIdle(): void {
    if (this.#round) return;
    for (const account of this.#options.accounts.list()) {
      const reported = this.#reported.get(account.user.id);
      const busy = account.sessions.size > 0 || account.localSources.length > 0;
      if ((reported !== undefined) !== busy) return this.#tick();
      if ((reported ?? 0) !== account.localSources.length) return this.#tick();
    }
  }

  #tick(): void {
    if (this.#round) return;
    this.#round = this.#beatOnce().finally(() => this.#round = null);
  }

  #beat(measure = true): NodeBeat {
    const o = this.#options;
    const loads = measure ? o.limits.measure() : [];
    return {
      name: o.name,
      listen: o.listen,
      version: o.version,
      startedAt: this.#startedAt,
      openConns: o.accounts.openSessions,
      rateUp: loads.reduce((sum, l) => sum + l.rateUp, 0),
      rateDown: loads.reduce((sum, l) => sum + l.rateDown, 0),
      loads,
    };
  }

  async #beatOnce(): Promise<void> {
    const o = this.#options;
    if (!this.#registered) {
      await this.#register(false).catch((error) => log.error("{error}", { error }));
      if (!this.#registered) return;
    }
    const beat = this.#beat();
    this.#reported = new Map(beat.loads.map((l) => [l.userId, l.sources?.length ?? 0]));
    try {
      const { peers, nodesAlive } = await o.registry.heartbeat(beat);
      o.health.up();
      o.limits.apply(beat.loads, peers, nodesAlive);
    } catch (error) {
      // Unreachable: the shares and connection counts of the last beat stay as they are.
      o.health.down(error);
    }
  }

  /** Stops beating (the node then counts as gone after {@linkcode NODE_ALIVE_MS}). */
  async stop(): Promise<void> {
    clearInterval(this.#timer);
    clearInterval(this.#idleCheck);
    await this.#round;
    await this.#unlisten?.().catch(() => {});
  }
}
