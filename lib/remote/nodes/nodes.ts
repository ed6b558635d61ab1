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
 * Beats for news (a user's first connection here or last one closing, another node's news)
 * come at most this often; the first at once.
 */
const MIN_GAP_MS = 150;
/**
 * After a beat that announced news, the node beats and announces once more this much later,
 * with the demand then measured (a new connection first reports itself held back).
 */
const FOLLOW_UP_MS = 300;

/**
 * `name` when it can name a node: 1 to 128 characters, none of them a control or invisible
 * format character (a newline, an escape, a bidi override) nor a line or paragraph separator,
 * no space at either end. `node list` and the logs print it; the admin panel shows it.
 *
 * @throws {RangeError} saying what is wrong, without echoing the control characters
 * @example checkNodeName("eu-1"); // "eu-1"
 */
export function checkNodeName(name: string): string {
  if (/[\p{C}\p{Zl}\p{Zp}]/u.test(name)) {
    throw new RangeError("expected a node name without control characters or line breaks");
  }
  if (name.length < 1 || name.length > 128 || name.trim() !== name) {
    throw new RangeError(`expected a node name of 1 to 128 characters, no space at either end`);
  }
  return name;
}

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
  #unlistenLoad: (() => Promise<void>) | undefined;
  #registered = false;
  /** Users this node reported load for at its last beat, with how many addresses. */
  #reported = new Map<number, number>();
  /** A beat is wanted once the one in progress is done. */
  #again = false;
  /** The next beat announces (a follow-up). */
  #announce = false;
  /** When the last beat started (performance.now), and the timer of one held back. */
  #lastBeat = -Infinity;
  #soon: ReturnType<typeof setTimeout> | undefined;
  #followUp: ReturnType<typeof setTimeout> | undefined;
  #stopped = false;

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
    options.limits.onActivity(() => link.#news());
    link.#timer = setInterval(() => link.#tick(), BEAT_MS);
    // The first beat at once: the shares hold from the start, not from a second in.
    link.#tick();
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
      this.#unlistenLoad ??= await o.registry.onLoad((node) => {
        if (node !== o.name) this.#news();
      });
    } catch (error) {
      if (error instanceof NodeNameTaken) throw error;
      o.health.down(error);
    }
  }

  /**
   * Beats as soon as it may: a user's first connection here opened or last one closed (this
   * node takes its share or leaves it to the others), or another node announced such news.
   */
  #news(): void {
    if (this.#soon !== undefined || this.#stopped) return;
    const wait = this.#lastBeat + MIN_GAP_MS - performance.now();
    if (wait <= 0) return this.#tick();
    this.#soon = setTimeout(() => {
      this.#soon = undefined;
      this.#tick();
    }, wait);
  }

  #tick(): void {
    if (this.#round) {
      this.#again = true;
      return;
    }
    this.#lastBeat = performance.now();
    this.#round = this.#beatOnce().finally(() => {
      this.#round = null;
      if (!this.#again || this.#stopped) return;
      this.#again = false;
      this.#news();
    });
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
    const reported = new Map(beat.loads.map((l) => [l.userId, l.sources?.length ?? 0]));
    // A user new or gone here, or another number of addresses (the device limit): news.
    const changed = reported.size !== this.#reported.size ||
      beat.loads.some((l) => this.#reported.get(l.userId) !== (l.sources?.length ?? 0));
    this.#reported = reported;
    beat.announce = changed || this.#announce;
    this.#announce = false;
    if (changed && !this.#stopped) {
      clearTimeout(this.#followUp);
      this.#followUp = setTimeout(() => {
        this.#announce = true;
        this.#tick();
      }, FOLLOW_UP_MS);
    }
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
    this.#stopped = true;
    clearInterval(this.#timer);
    clearTimeout(this.#soon);
    clearTimeout(this.#followUp);
    await this.#round;
    await this.#unlisten?.().catch(() => {});
    await this.#unlistenLoad?.().catch(() => {});
  }
}
