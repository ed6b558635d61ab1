/**
 * The ready-tunnel pool: TLS connections to the remote opened ahead (TCP + TLS done, header not
 * sent), so a new client connection skips the handshake round trips. Each one carries exactly
 * one client connection. The pool learns how many to keep from the bursts it has seen.
 */
import type { Peer } from "../../common/net/peer.ts";
import { PRE_LOGIN_PER_SOURCE } from "../../common/net/handshake_gate.ts";

/**
 * The most ready tunnels any pool keeps, whatever `--preconnect` says: what Chromium opens
 * through one proxy at most (32 sockets per proxy server), within the remote's pre-login cap.
 */
export const MAX_READY = 32;

/** How a {@linkcode ReadyPool} sizes itself and ages its tunnels. */
export interface PoolOptions {
  /** Most tunnels kept ready (`--preconnect`, capped at {@linkcode MAX_READY}); 0: off. */
  max: number;
  /** Kept ready after any use while the local is in use (capped by `max`). */
  floor: number;
  /** A burst's claim on the pool halves every this long. */
  halfLifeMs: number;
  /** No client for this long: nothing is kept ready. */
  idleMs: number;
  /** A ready tunnel older than this is closed (the remote closes one whose header is late). */
  maxAgeMs: number;
  /** A ready tunnel this old gets its replacement opened, so the pool never runs dry. */
  refreshAgeMs: number;
}

/**
 * The pool's defaults. The floor keeps one-at-a-time use at one round trip; a burst (a page
 * load opens 20–30 connections at once) raises the pool to a quarter more than it took, for
 * about a minute; a minute without any client empties it. SwiftProxy's remote allows a header
 * 10 s after the TLS handshake (`--handshake-timeout`), so 5 s leaves a wide margin.
 */
export const POOL_DEFAULTS: Readonly<Omit<PoolOptions, "max">> = Object.freeze({
  floor: 4,
  halfLifeMs: 30_000,
  idleMs: 60_000,
  maxAgeMs: 5_000,
  refreshAgeMs: 4_000,
});

/**
 * Connections the pool itself keeps in the remote's pre-login state (ready, opening, and
 * clients' own dials): three quarters of what the remote's handshake gate allows one source, so
 * a full pool and a burst never make the remote close this local's connections.
 */
export const PRE_LOGIN_BUDGET = Math.floor(PRE_LOGIN_PER_SOURCE * 3 / 4);

/**
 * How long a take puts off the refill it calls for. A burst's clients all take within a few ms;
 * refilling at the first take ran the refill's TCP connects and TLS starts (CPU in the local)
 * between the burst's own header writes: a burst of 8 over a 50 ms link then waited about 2 ms
 * more at the median, and 24 right after one connection about 10 ms more. A ready tunnel takes
 * a dial's time (1.5 RTT and more) to come, so 5 ms later costs the next burst nothing.
 */
export const REFILL_DELAY_MS = 5;

/** Shortest and longest window within which tunnels taken count as one burst. */
const BURST_WINDOW_MIN_MS = 100;
const BURST_WINDOW_MAX_MS = 2_000;

/**
 * How many ready tunnels recent use calls for. A burst is the tunnels taken within twice the
 * time a dial takes (what a refill cannot catch up with); its size is remembered and decays
 * with a half-life. Pure: the caller passes the time.
 *
 * @example
 * const demand = new Demand({ ...POOL_DEFAULTS, max: 32 });
 * demand.took(performance.now());
 * demand.target(performance.now()); // 4: the floor
 */
export class Demand {
  readonly #options: Omit<PoolOptions, "maxAgeMs" | "refreshAgeMs">;
  /** Times of the recent takes, oldest first; at most `max` are needed to reach the cap. */
  readonly #takes: number[] = [];
  #peak = 0;
  #peakAt = -Infinity;
  #lastTake = -Infinity;
  /** Smoothed time of a dial, in ms: it sets the burst window. */
  #dialMs = 50;

  constructor(options: Omit<PoolOptions, "maxAgeMs" | "refreshAgeMs">) {
    this.#options = options;
  }

  /** Notes one tunnel taken by a client at `now`. */
  took(now: number): void {
    this.#lastTake = now;
    const { max } = this.#options;
    if (max <= 0) return;
    const window = this.burstWindowMs;
    this.#takes.push(now);
    while (this.#takes.length > 0 && now - this.#takes[0]! > window) this.#takes.shift();
    while (this.#takes.length > max) this.#takes.shift();
    const burst = this.#takes.length;
    if (burst >= this.#decayedPeak(now)) {
      this.#peak = burst;
      this.#peakAt = now;
    }
  }

  /** Notes how long a dial (TCP + TLS) took. */
  dialed(ms: number): void {
    this.#dialMs += (ms - this.#dialMs) / 4;
  }

  /** The window within which takes count as one burst. */
  get burstWindowMs(): number {
    return Math.min(BURST_WINDOW_MAX_MS, Math.max(BURST_WINDOW_MIN_MS, 2 * this.#dialMs));
  }

  /** True while a client took a tunnel within the idle time. */
  inUse(now: number): boolean {
    return now - this.#lastTake < this.#options.idleMs;
  }

  /** How many tunnels to keep ready at `now`: 0 when idle, else between the floor and `max`. */
  target(now: number): number {
    const { max, floor } = this.#options;
    if (max <= 0 || !this.inUse(now)) return 0;
    const wanted = Math.ceil(this.#decayedPeak(now) * 1.25);
    return Math.min(max, Math.max(floor, wanted));
  }

  #decayedPeak(now: number): number {
    if (this.#peak === 0) return 0;
    return this.#peak * 2 ** (-(now - this.#peakAt) / this.#options.halfLifeMs);
  }
}

/** A tunnel opened ahead: TLS is up, the header not yet sent. */
interface ReadyTunnel {
  peer: Peer;
  openedAt: number;
}

/**
 * Tunnels opened ahead for one remote and account. {@linkcode take} hands out the newest ready
 * one (or `undefined`), each exactly once; a few ms later the pool refills, once for all the
 * takes of a burst and in parallel, up to what {@linkcode Demand} asks. A tunnel the remote
 * closes while ready is dropped at once.
 *
 * @example
 * const pool = new ReadyPool(() => dialRemote(), { ...POOL_DEFAULTS, max: 32 });
 * const tunnel = pool.take() ?? await pool.dial();
 * pool.close();
 */
export class ReadyPool {
  readonly #open: () => Promise<Peer>;
  readonly #options: PoolOptions;
  readonly demand: Demand;
  readonly #ready: ReadyTunnel[] = [];
  /** Dials the pool started, not done yet. */
  #opening = 0;
  /** Dials clients started themselves (the pool was empty), not done yet. */
  #dialing = 0;
  /** A refill failed: wait for the next client before trying again. */
  #failed = false;
  #timer: ReturnType<typeof setInterval> | undefined;
  #closed = false;
  /** The refill that {@linkcode take} put off, if one is due. */
  #refillTimer: ReturnType<typeof setTimeout> | undefined;
  readonly #now: () => number;
  /** Tunnels the pool opened ahead, since it was made. */
  opened = 0;
  /** Of those, closed unused (too old, or beyond the target). */
  expired = 0;

  /** `now` is the clock, in ms (a test passes its own). */
  constructor(
    open: () => Promise<Peer>,
    options: PoolOptions,
    now: () => number = () => performance.now(),
  ) {
    this.#open = open;
    this.#options = { ...options, max: Math.min(options.max, MAX_READY) };
    this.demand = new Demand(this.#options);
    this.#now = now;
  }

  /** Tunnels ready now. */
  get ready(): number {
    return this.#ready.length;
  }

  /** Tunnels the pool is opening now. */
  get opening(): number {
    return this.#opening;
  }

  /** The newest ready tunnel, counted as used; `undefined` when none is ready. */
  take(): Peer | undefined {
    const now = this.#now();
    this.demand.took(now);
    this.#failed = false;
    this.#dropOld(now);
    const peer = this.#ready.pop()?.peer;
    this.#refillSoon();
    return peer;
  }

  /**
   * Dials a tunnel for a client now (none was ready), counted against the pre-login budget.
   *
   * @throws whatever the dial function throws
   */
  async dial(): Promise<Peer> {
    this.#dialing++;
    try {
      return await this.#timed();
    } finally {
      this.#dialing--;
    }
  }

  /** Closes the ready tunnels and stops opening more. */
  close(): void {
    this.#closed = true;
    clearInterval(this.#timer);
    clearTimeout(this.#refillTimer);
    this.#timer = undefined;
    for (const { peer } of this.#ready.splice(0)) peer.close();
  }

  async #timed(): Promise<Peer> {
    const started = this.#now();
    const peer = await this.#open();
    this.demand.dialed(this.#now() - started);
    return peer;
  }

  /**
   * Refills {@linkcode REFILL_DELAY_MS} after the first of a run of takes, once for all of
   * them: the refill's connects and TLS starts then come after the burst's own headers and
   * first bytes are out instead of between them.
   */
  #refillSoon(): void {
    if (this.#refillTimer !== undefined || this.#closed) return;
    this.#refillTimer = setTimeout(() => {
      this.#refillTimer = undefined;
      this.#refill(this.#now());
    }, REFILL_DELAY_MS);
  }

  /** Closes ready tunnels past their age. */
  #dropOld(now: number): void {
    const { maxAgeMs } = this.#options;
    while (this.#ready.length > 0 && now - this.#ready[0]!.openedAt > maxAgeMs) this.#expire();
  }

  /** Closes the oldest ready tunnel, unused. */
  #expire(): void {
    this.#ready.shift()!.peer.close();
    this.expired++;
  }

  /**
   * Opens tunnels, all at once, until the young ready ones and those opening meet the target,
   * within the pre-login budget.
   */
  #refill(now: number): void {
    if (this.#closed || this.#failed) return;
    const target = this.demand.target(now);
    const young = this.#ready.filter((t) => now - t.openedAt < this.#options.refreshAgeMs).length;
    let wanted = Math.min(
      target - young - this.#opening,
      PRE_LOGIN_BUDGET - this.#ready.length - this.#opening - this.#dialing,
    );
    for (; wanted > 0; wanted--) {
      this.#opening++;
      this.opened++;
      this.#timed().then((peer) => this.#keep(peer), () => {
        // The remote is down or refusing: the next client's own dial reports it.
        this.#failed = true;
      }).finally(() => this.#opening--);
    }
    if (this.#timer === undefined && target > 0) {
      this.#timer = setInterval(() => this.age(), 1000);
      Deno.unrefTimer(this.#timer);
    }
  }

  #keep(peer: Peer): void {
    if (this.#closed) return peer.close();
    const now = this.#now();
    const entry = { peer, openedAt: now };
    this.#ready.push(entry);
    // Make before break: the replacement is here, so the oldest beyond the target can go.
    while (this.#ready.length > this.demand.target(now)) this.#expire();
    // The remote sends nothing before the header: any answer means it closed the tunnel.
    peer.readAhead().catch(() => null).then(() => {
      const at = this.#ready.indexOf(entry);
      if (at < 0) return;
      this.#ready.splice(at, 1);
      peer.close();
    });
  }

  /**
   * Closes tunnels past their age or beyond what demand asks now, and refills: every second
   * while the pool is in use (a test with its own clock calls it).
   */
  age(): void {
    const now = this.#now();
    this.#dropOld(now);
    const target = this.demand.target(now);
    while (this.#ready.length > target) this.#expire();
    this.#refill(now);
    if (target === 0 && this.#opening === 0) {
      clearInterval(this.#timer);
      this.#timer = undefined;
    }
  }
}
