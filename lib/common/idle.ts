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

/**
 * Starts an idle timer of `ms` over the meters `inner` (either may be absent). `ms` of 0
 * disables it: the signal never aborts. One timer per connection, re-armed at most once per
 * period rather than on every chunk, so the hot path only bumps a counter. Pass the
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
  let chunks = 0;
  let seen = -1;
  let timer: ReturnType<typeof setTimeout> | undefined;
  const check = () => {
    if (chunks === seen) {
      controller.abort(new Deno.errors.TimedOut(`no traffic for ${ms} ms`));
      return;
    }
    seen = chunks;
    timer = setTimeout(check, ms);
  };
  if (ms > 0) check();
  const wrap = (meter?: Meter): Meter => ({
    take(n, signal) {
      chunks++;
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
    stop: () => clearTimeout(timer),
  };
}
