/** The idle timeout: a tunnel with no traffic either way for too long is closed. */
import type { Meter } from "./relay.ts";

/** Watches the traffic of one connection through its meters. */
export interface IdleWatch {
  /** Aborted (with a `Deno.errors.TimedOut` reason) once no byte moved for the timeout. */
  readonly signal: AbortSignal;
  /** Meters that note traffic, then hand each chunk on to the wrapped meter. */
  readonly up: Meter;
  readonly down: Meter;
  /** Stops the timer; call when the connection ends. */
  stop(): void;
}

/** One connection's traffic count as the period's timer sees it. */
interface Watched {
  chunks: number;
  seen: number;
  readonly controller: AbortController;
}

/**
 * One timer per period for every connection watched with it, not one per connection: each
 * of Deno's timers is an object of about 0.8 KiB, and re-arming one per connection per period
 * costs CPU with thousands of tunnels open. A connection with no chunk between two ticks is
 * aborted, so it goes after between one and two periods of silence, as with its own timer.
 */
class IdleTicker {
  readonly #watched = new Set<Watched>();
  #timer: ReturnType<typeof setInterval> | undefined;

  constructor(readonly ms: number, readonly onEmpty: () => void) {}

  add(watched: Watched): void {
    this.#watched.add(watched);
    this.#timer ??= setInterval(() => this.#tick(), this.ms);
  }

  delete(watched: Watched): void {
    if (!this.#watched.delete(watched) || this.#watched.size > 0) return;
    clearInterval(this.#timer);
    this.#timer = undefined;
    this.onEmpty();
  }

  #tick(): void {
    for (const watched of this.#watched) {
      if (watched.chunks !== watched.seen) {
        watched.seen = watched.chunks;
        continue;
      }
      this.delete(watched);
      watched.controller.abort(new Deno.errors.TimedOut(`no traffic for ${this.ms} ms`));
    }
  }
}

const tickers = new Map<number, IdleTicker>();

function tickerFor(ms: number): IdleTicker {
  let ticker = tickers.get(ms);
  if (!ticker) {
    ticker = new IdleTicker(ms, () => tickers.delete(ms));
    tickers.set(ms, ticker);
  }
  return ticker;
}

/**
 * Starts an idle timeout of `ms` over the meters `inner` (either may be absent). `ms` of 0
 * disables it: the signal never aborts. Connections with the same `ms` share one timer (see
 * {@linkcode IdleTicker}), so the hot path only bumps a counter. Pass the
 * connection's own `controller` to have idleness abort it, rather than combining signals
 * with `AbortSignal.any` (whose weak references keep every relay alive through young GCs).
 *
 * @example
 * const idle = watchIdle(300_000, meters, session);
 * await relay(client, server, idle);
 * idle.stop();
 */
export function watchIdle(
  ms: number,
  inner: { up?: Meter; down?: Meter } = {},
  controller = new AbortController(),
): IdleWatch {
  const watched: Watched = { chunks: 0, seen: -1, controller };
  let ticker: IdleTicker | undefined;
  if (ms > 0) {
    ticker = tickerFor(ms);
    ticker.add(watched);
  }
  const wrap = (meter?: Meter): Meter => ({
    take(n, signal) {
      watched.chunks++;
      return meter?.take(n, signal);
    },
    sent(n) {
      meter?.sent?.(n);
    },
    get quantum() {
      return meter?.quantum;
    },
  });
  return {
    signal: controller.signal,
    up: wrap(inner.up),
    down: wrap(inner.down),
    stop: () => {
      ticker?.delete(watched);
      ticker = undefined;
    },
  };
}
