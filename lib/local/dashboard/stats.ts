/**
 * Rates and the connection list for the dashboard: sampled once a second from the
 * connection table, with a rolling history and the busiest connections first.
 */
import type { ConnectionInfo, ConnectionTable } from "../connections.ts";

/** One row of the open-connections list. */
export interface ConnectionRow extends Omit<ConnectionInfo, "startedAt"> {
  /** Seconds since the connection was accepted. */
  age: number;
  /** Bytes per second, both directions, over the last sample. */
  rate: number;
}

/** Upload and download rate history, oldest first, bytes per second. */
export interface RateHistory {
  up: number[];
  down: number[];
}

/** Samples a {@linkcode ConnectionTable} into rates, history and a capped row list. */
export class StatsSampler {
  readonly #table: ConnectionTable;
  readonly #seconds: number;
  readonly history: RateHistory;
  #lastAt = performance.now();
  #lastUp: number;
  #lastDown: number;
  /** Bytes a connection had at the previous sample, and its rate since. */
  #seen = new Map<number, { bytes: number; rate: number }>();

  constructor(table: ConnectionTable, seconds = 60) {
    this.#table = table;
    this.#seconds = seconds;
    this.history = { up: new Array(seconds).fill(0), down: new Array(seconds).fill(0) };
    this.#lastUp = table.totalUp;
    this.#lastDown = table.totalDown;
  }

  /** Takes a sample: the rates since the previous one join the history. */
  sample(now = performance.now()): void {
    const seconds = Math.max((now - this.#lastAt) / 1000, 0.001);
    this.#lastAt = now;
    const up = this.#table.totalUp;
    const down = this.#table.totalDown;
    this.#push(this.history.up, Math.max(0, (up - this.#lastUp) / seconds));
    this.#push(this.history.down, Math.max(0, (down - this.#lastDown) / seconds));
    this.#lastUp = up;
    this.#lastDown = down;
    const seen = new Map<number, { bytes: number; rate: number }>();
    for (const info of this.#table.list()) {
      const bytes = info.up + info.down;
      const before = this.#seen.get(info.id)?.bytes ?? 0;
      seen.set(info.id, { bytes, rate: Math.max(0, (bytes - before) / seconds) });
    }
    this.#seen = seen;
  }

  /** The latest upload and download rates. */
  get rate(): { up: number; down: number } {
    return { up: this.history.up.at(-1)!, down: this.history.down.at(-1)! };
  }

  /** Up to `limit` open connections, the most active over the last sample first, then the newest. */
  rows(limit: number, now = Date.now()): ConnectionRow[] {
    const rows = this.#table.list().map((info) => ({
      id: info.id,
      client: info.client,
      protocol: info.protocol,
      destination: info.destination,
      up: info.up,
      down: info.down,
      age: Math.max(0, Math.floor((now - info.startedAt) / 1000)),
      rate: Math.round(this.#seen.get(info.id)?.rate ?? 0),
    }));
    rows.sort((a, b) => b.rate - a.rate || b.id - a.id);
    return rows.slice(0, limit);
  }

  #push(series: number[], value: number): void {
    series.push(Math.round(value));
    if (series.length > this.#seconds) series.shift();
  }
}
