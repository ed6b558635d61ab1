/**
 * How closely a user's transfers, through whichever nodes, held the user's one limit: the bytes
 * moved in every window during which the user had a tunnel open throughout (so it would have
 * taken more than the limit), divided by what the limit allows in that time.
 */
import type { Transfer } from "./trojan_transfer.ts";

/** One user's accuracy in one direction; errors are moved ÷ allowed − 1 (NaN: no window). */
export interface Accuracy {
  windows: number;
  /** All saturated windows together. */
  error: number;
  /** Windows with no tunnel of the user opening or closing in them or in the settle time before. */
  steadyWindows: number;
  steadyError: number;
  /** The first `settleMs` of every span that lasted that long (not in the above). */
  starts: BurstStart[];
  /** The lowest and highest single window. */
  worstLow: number;
  worstHigh: number;
}

/** The first moments of one busy span: through how many nodes it began, what moved, and allowed. */
export interface BurstStart {
  nodes: number;
  moved: number;
  allowed: number;
}

/** Tunnels opened within this long of each other count as one burst's start. */
const SAME_START_MS = 200;

/** Times when at least one of `transfers` was open, merged into spans. */
function busySpans(transfers: Transfer[]): [number, number][] {
  const intervals = transfers
    .map((t) => [t.counter.started, t.counter.ended ?? t.counter.started] as [number, number])
    .sort((a, b) => a[0] - b[0]);
  const spans: [number, number][] = [];
  for (const [start, end] of intervals) {
    const last = spans.at(-1);
    if (last && start <= last[1]) last[1] = Math.max(last[1], end);
    else spans.push([start, end]);
  }
  return spans;
}

/**
 * Reads `limit`'s accuracy over windows of `windowMs` laid end to end in each busy span, from
 * `settleMs` after the span began (the node's share needs a beat or two to follow a tunnel, and
 * a bucket idle before starts with a second's burst).
 *
 * @example sharedLimitAccuracy(aliceDownloads, 1024 * 1024).error // 0.012 = 1.2% over
 */
export function sharedLimitAccuracy(
  transfers: Transfer[],
  limit: number,
  windowMs = 2000,
  settleMs = 2000,
): Accuracy {
  const edges = transfers.flatMap((t) => [t.counter.started, t.counter.ended ?? Infinity]);
  const allowed = limit * windowMs / 1000;
  let moved = 0;
  let steadyMoved = 0;
  const errors: number[] = [];
  let steadyWindows = 0;
  const bytesIn = (from: number, to: number) =>
    transfers.reduce((sum, t) => sum + t.counter.between(from, to), 0);
  const starts: BurstStart[] = [];
  for (const [start, end] of busySpans(transfers)) {
    if (end - start >= settleMs) {
      const first = transfers.filter((t) => Math.abs(t.counter.started - start) <= SAME_START_MS);
      starts.push({
        nodes: new Set(first.map((t) => t.node)).size,
        moved: bytesIn(start, start + settleMs),
        allowed: limit * settleMs / 1000,
      });
    }
    for (let from = start + settleMs; from + windowMs <= end; from += windowMs) {
      const to = from + windowMs;
      const bytes = bytesIn(from, to);
      moved += bytes;
      errors.push(bytes / allowed - 1);
      if (!edges.some((edge) => edge > from - settleMs && edge < to)) {
        steadyMoved += bytes;
        steadyWindows++;
      }
    }
  }
  return {
    windows: errors.length,
    error: moved / (allowed * errors.length) - 1,
    steadyWindows,
    steadyError: steadyMoved / (allowed * steadyWindows) - 1,
    starts,
    worstLow: errors.length ? Math.min(...errors) : NaN,
    worstHigh: errors.length ? Math.max(...errors) : NaN,
  };
}
