/** The one relay: copies bytes both ways between two peers, honouring half-close. */
import type { Peer } from "./peer.ts";
import type { OutcomeKind } from "../ops/session_events.ts";

/**
 * Sees every chunk that crosses in one direction. `take` runs before a chunk is written and
 * may return a promise to delay it (a rate limit); returning nothing keeps the hot path free of
 * extra awaits. `signal` aborts when the relay is torn down, so a waiting `take` can give up.
 * `sent` runs once the other side's socket has taken the chunk: what accounting charges.
 */
export interface Meter {
  take(bytes: number, signal?: AbortSignal): Promise<void> | void;
  sent?(bytes: number): void;
  /**
   * While non-zero, chunks are metered and written in pieces of at most this many bytes, so a
   * rate limit shared by several connections interleaves them finely.
   */
  readonly quantum?: number;
}

/**
 * The reason every torn-down relay aborts its signal with: `abort()` without one builds a
 * DOMException with a stack trace, about 1 % of the local's CPU in a run of short connections.
 */
const TORN_DOWN = new Error("the relay was torn down");

/** Why a relay ended: the session outcomes a relay itself can give. */
export type CloseReason = Extract<
  OutcomeKind,
  "done" | "client-reset" | "server-reset" | "aborted" | "refused"
>;

/** What a relay moved and why it ended. */
export interface RelayResult {
  up: number;
  down: number;
  reason: CloseReason;
}

/** Options for {@linkcode relay}. */
export interface RelayOptions {
  /** Counts (and may limit) bytes from client to server. */
  up?: Meter;
  /** Counts (and may limit) bytes from server to client. */
  down?: Meter;
  /** Tears both sides down when aborted (kicked user, shutdown). */
  signal?: AbortSignal;
  /**
   * Sees the client's first bytes before they are written (the other direction flows
   * meanwhile): returns the bytes to send, having read more from `client` if it needed to, or
   * null to tear the relay down with the reason "refused".
   */
  firstUp?: (chunk: Uint8Array, client: Peer) => Promise<Uint8Array | null>;
}

/**
 * Relays `client` ⇄ `server` until both directions have ended, then closes both.
 * When one side ends its writing, the other direction keeps flowing (half-close);
 * an error on either side closes both at once.
 *
 * @example const { up, down, reason } = await relay(clientPeer, tunnelPeer);
 */
export async function relay(
  client: Peer,
  server: Peer,
  options: RelayOptions = {},
): Promise<RelayResult> {
  const counts = { up: 0, down: 0 };
  let reason: CloseReason = "done";
  const torn = new AbortController();
  const teardown = (why: CloseReason) => {
    if (reason === "done") reason = why;
    client.close();
    server.close();
    torn.abort(TORN_DOWN);
  };
  const onAbort = () => teardown("aborted");
  options.signal?.addEventListener("abort", onAbort, { once: true });
  if (options.signal?.aborted) onAbort();
  await Promise.all([
    pump(client, server, (n) => counts.up += n, torn.signal, options.up, options.firstUp).catch(
      (side: Side | "refused") =>
        teardown(side === "refused" ? side : side === "from" ? "client-reset" : "server-reset"),
    ),
    pump(server, client, (n) => counts.down += n, torn.signal, options.down).catch((side: Side) =>
      teardown(side === "from" ? "server-reset" : "client-reset")
    ),
  ]);
  options.signal?.removeEventListener("abort", onAbort);
  client.close();
  server.close();
  return { ...counts, reason };
}

/** Which end of a pump failed: the one read from or the one written to. */
type Side = "from" | "to";

async function pump(
  from: Peer,
  to: Peer,
  count: (n: number) => void,
  torn: AbortSignal,
  meter?: Meter,
  first?: RelayOptions["firstUp"],
) {
  for (;;) {
    let chunk: Uint8Array | null;
    let refused = false;
    try {
      chunk = await from.read();
      if (first && chunk !== null) {
        chunk = await first(chunk, from);
        first = undefined;
        refused = chunk === null;
      }
    } catch {
      throw "from" satisfies Side;
    }
    if (refused) throw "refused";
    if (chunk === null) break;
    const step = meter?.quantum || chunk.length;
    for (let at = 0; at < chunk.length; at += step) {
      const piece = step >= chunk.length ? chunk : chunk.subarray(at, at + step);
      if (meter) {
        const wait = meter.take(piece.length, torn);
        if (wait) await wait;
      }
      try {
        await to.write(piece);
      } catch {
        throw "to" satisfies Side;
      }
      count(piece.length);
      meter?.sent?.(piece.length);
    }
    from.recycle(chunk);
  }
  try {
    await to.closeWrite();
  } catch {
    // The other end is already gone; the pump reading from it reports that.
  }
}
