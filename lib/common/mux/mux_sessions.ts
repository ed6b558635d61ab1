/**
 * The sub-connections of one Mux.Cool tunnel, by id, with the bounds on what the tunnel's
 * reader queues for them: the same job on the remote (the client's data towards destinations)
 * and on the local (the remote's data towards apps).
 *
 * Mux.Cool has no flow control per session, so a session whose reader does not keep up is held
 * back by not reading the tunnel, which holds back every session (V2Ray and Xray do only that,
 * for as long as it lasts). Here the hold is bounded: each session queues at most
 * `sessionQueue` bytes and the tunnel `tunnelQueue`; past that the reader waits for the session
 * in the way to take data, and if it takes none for `stallMs`, that session alone is closed
 * ({@linkcode MuxSessions.stalled}) and the others go on. A session that reads slowly paces the
 * tunnel but is kept: the one TCP connection under the sessions forces that.
 */
import type { Destination } from "../../protocol/address.ts";
import type { MuxStream, MuxTunnelSide } from "./mux_stream.ts";

/** How much a tunnel's reader queues, and how long a session may hold it. */
export interface MuxBounds {
  /** Most bytes one session may have queued before the reader waits for it. */
  sessionQueue: number;
  /** Most bytes all sessions of a tunnel may have queued before the reader waits. */
  tunnelQueue: number;
  /** How long a session in the way may take no data before it is closed alone. */
  stallMs: number;
}

/**
 * The table of a tunnel's streams and its reader's queue bounds; a side's tunnel extends it
 * with how frames are written and what a stall does.
 *
 * @example
 * class Tunnel extends MuxSessions { send(f) { return peer.write(f); } active() {} stalled(s) { s.close(); } }
 */
export abstract class MuxSessions implements MuxTunnelSide {
  /** Open streams by id. */
  protected readonly streams = new Map<number, MuxStream>();
  readonly #bounds: MuxBounds;
  #queued = 0;
  /** Woken when a stream's relay takes data or a stream closes. */
  #progress: (() => void) | null = null;

  constructor(bounds: MuxBounds) {
    this.#bounds = bounds;
  }

  abstract send(frames: Uint8Array): Promise<void>;
  abstract active(): void;
  /** `stream` held the reader for `stallMs` without taking data: close it (and say why). */
  protected abstract stalled(stream: MuxStream, ms: number): void;

  /** Bytes queued for all streams. */
  get queued(): number {
    return this.#queued;
  }

  /**
   * Queues `data` for `stream` (a UDP datagram with its own `address`), then waits until the
   * stream and the tunnel are under their bounds; a stream in the way that takes no data for
   * `stallMs` is handed to {@linkcode stalled}.
   */
  async push(stream: MuxStream, data: Uint8Array, address?: Destination): Promise<void> {
    const before = stream.queued;
    stream.push(data, address);
    this.#queued += stream.queued - before;
    const { sessionQueue, tunnelQueue, stallMs } = this.#bounds;
    for (;;) {
      const blocker = stream.queued > sessionQueue
        ? stream
        : this.#queued > tunnelQueue
        ? this.#largest()
        : null;
      if (!blocker || blocker.queued === 0) return;
      const taken = blocker.takenTotal;
      await this.#waitProgress(stallMs);
      if (blocker.takenTotal !== taken || blocker.queued === 0) continue;
      this.stalled(blocker, stallMs);
    }
  }

  #largest(): MuxStream | undefined {
    let largest: MuxStream | undefined;
    for (const stream of this.streams.values()) {
      if (!largest || stream.queued > largest.queued) largest = stream;
    }
    return largest;
  }

  #waitProgress(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const timer = setTimeout(done, ms);
      const previous = this.#progress;
      function done() {
        clearTimeout(timer);
        resolve();
      }
      this.#progress = () => {
        previous?.();
        done();
      };
    });
  }

  taken(_stream: MuxStream, bytes: number): void {
    this.#queued -= bytes;
    const progress = this.#progress;
    this.#progress = null;
    progress?.();
  }

  closed(stream: MuxStream): void {
    if (this.streams.get(stream.id) === stream) this.streams.delete(stream.id);
    this.taken(stream, 0);
  }
}
