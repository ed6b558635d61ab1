/**
 * Rates and the connection list for the dashboard. Bytes are read from the connection table
 * several times a second and shared out over aligned one-second windows (each whole second
 * of the clock), so a late or early timer does not move bytes from one second into the next;
 * the rate shown is each window's, lightly smoothed over the two before it.
 */
import type { ConnectionInfo, ConnectionTable } from "../inbound/connections.ts";

/** What a sampler reads: byte totals and the rows (a {@linkcode ConnectionTable}, or a view). */
export type Counted = Pick<ConnectionTable, "totalUp" | "totalDown" | "list" | "failed">;

/**
 * The table's direct traffic only (a `DIRECT` rule's bytes), for a second sampler: the
 * dashboard shows what goes through the server and what does not.
 *
 * @example const direct = new StatsSampler(directTraffic(control.connections));
 */
export function directTraffic(table: ConnectionTable): Counted {
  return {
    get totalUp() {
      return table.directUp;
    },
    get totalDown() {
      return table.directDown;
    },
    list: () => [],
    failed: () => [],
  };
}

/** One row of the open-connections list. */
export interface ConnectionRow extends Omit<ConnectionInfo, "startedAt" | "failure"> {
  /** Seconds since the connection was accepted. */
  age: number;
  /** Bytes per second, both directions, over the last closed window. */
  rate: number;
  /** Why the remote refused it: a closed connection, listed for a while after the open ones. */
  failure?: string;
}

/** Upload and download rate history, one value per second, oldest first, bytes per second. */
export interface RateHistory {
  up: number[];
  down: number[];
}

/**
 * Weights of the smoothing, newest window first: light enough that a change shows within a
 * second, and finite, so the rate is exactly 0 three seconds after the traffic stops.
 */
const SMOOTHING = [0.5, 0.3, 0.2];
const WINDOW_MS = 1000;

/**
 * Samples a {@linkcode ConnectionTable} into per-second rates, their history and a capped
 * row list.
 *
 * @example
 * const sampler = new StatsSampler(control.connections);
 * setInterval(() => sampler.sample() && send(sampler.rate), 250);
 */
export class StatsSampler {
  readonly #table: Counted;
  readonly #seconds: number;
  /** The smoothed rate of each closed window, oldest first. */
  readonly history: RateHistory;
  /** The unsmoothed rates of the last closed windows, newest first. */
  readonly #raw = { up: [] as number[], down: [] as number[] };
  #lastAt: number;
  #lastUp: number;
  #lastDown: number;
  /** Start of the window being filled, and what it holds so far. */
  #window: number;
  #open = { up: 0, down: 0, ms: 0 };
  /** Bytes a connection had at the previous window's close, and its rate over that window. */
  #seen = new Map<number, { bytes: number; rate: number }>();

  /** @param now the clock's current time in ms (`Date.now()`; the windows follow its seconds) */
  constructor(table: Counted, seconds = 60, now = Date.now()) {
    this.#table = table;
    this.#seconds = seconds;
    this.history = { up: new Array(seconds).fill(0), down: new Array(seconds).fill(0) };
    this.#lastAt = now;
    this.#window = windowOf(now);
    this.#lastUp = table.totalUp;
    this.#lastDown = table.totalDown;
  }

  /**
   * Reads the table: the bytes moved since the previous call are shared out over the time
   * between the two calls, window by window. Returns true when a window closed (the history
   * and `rate` changed); call it a few times a second.
   */
  sample(now = Date.now()): boolean {
    const up = this.#table.totalUp - this.#lastUp;
    const down = this.#table.totalDown - this.#lastDown;
    this.#lastUp = this.#table.totalUp;
    this.#lastDown = this.#table.totalDown;
    const from = this.#lastAt;
    const span = Math.max(now - from, 0);
    this.#lastAt = Math.max(now, from);
    let closed = false;
    let at = from;
    while (this.#window + WINDOW_MS <= now) {
      const end = this.#window + WINDOW_MS;
      this.#add(up, down, end - at, span);
      this.#close();
      at = end;
      closed = true;
    }
    this.#add(up, down, Math.max(now - at, 0), span);
    if (closed) this.#rowRates();
    return closed;
  }

  /** The latest upload and download rates (the newest value of `history`). */
  get rate(): { up: number; down: number } {
    return { up: this.history.up.at(-1)!, down: this.history.down.at(-1)! };
  }

  /** Up to `limit` open connections, the most active over the last window first, then the newest. */
  rows(limit: number, now = Date.now()): ConnectionRow[] {
    const rows = this.#table.list().map((info) =>
      rowOf(info, now, Math.round(this.#seen.get(info.id)?.rate ?? 0))
    );
    rows.sort((a, b) => b.rate - a.rate || b.id - a.id);
    // Then those the remote refused, with why, while they are recent.
    const failed = this.#table.failed(now).map((info) => rowOf(info, now, 0));
    return [...rows.slice(0, limit), ...failed];
  }

  /** Adds the share of `up`/`down` that fell in `ms` of the `span` they were counted over. */
  #add(up: number, down: number, ms: number, span: number): void {
    const share = span > 0 ? ms / span : 1;
    this.#open.up += up * share;
    this.#open.down += down * share;
    this.#open.ms += ms;
  }

  #close(): void {
    // The first window is only partly watched; later ones are whole.
    const seconds = Math.max(this.#open.ms, 1) / 1000;
    this.#push("up", this.#open.up / seconds);
    this.#push("down", this.#open.down / seconds);
    this.#open = { up: 0, down: 0, ms: 0 };
    this.#window += WINDOW_MS;
  }

  #push(direction: "up" | "down", rate: number): void {
    const raw = this.#raw[direction];
    raw.unshift(rate);
    raw.length = Math.min(raw.length, SMOOTHING.length);
    // Over the windows there are: the first seconds after start are not pulled towards 0.
    const weights = SMOOTHING.slice(0, raw.length);
    const total = weights.reduce((sum, weight) => sum + weight, 0);
    const smoothed = weights.reduce((sum, weight, i) => sum + weight * raw[i]!, 0) / total;
    const series = this.history[direction];
    series.push(Math.round(smoothed));
    if (series.length > this.#seconds) series.shift();
  }

  #rowRates(): void {
    const seen = new Map<number, { bytes: number; rate: number }>();
    for (const info of this.#table.list()) {
      const bytes = info.up + info.down;
      const before = this.#seen.get(info.id)?.bytes ?? 0;
      seen.set(info.id, { bytes, rate: Math.max(0, (bytes - before) * 1000 / WINDOW_MS) });
    }
    this.#seen = seen;
  }
}

function rowOf(info: ConnectionInfo, now: number, rate: number): ConnectionRow {
  return {
    id: info.id,
    client: info.client,
    protocol: info.protocol,
    destination: info.destination,
    up: info.up,
    down: info.down,
    ...(info.datagrams ? { datagrams: { ...info.datagrams } } : {}),
    ...(info.tunnel ? { tunnel: info.tunnel } : {}),
    age: Math.max(0, Math.floor((now - info.startedAt) / 1000)),
    rate,
    ...(info.failure ? { failure: info.failure.words } : {}),
    ...(info.route ? { route: info.route, rule: info.rule } : {}),
  };
}

function windowOf(ms: number): number {
  return Math.floor(ms / WINDOW_MS) * WINDOW_MS;
}
