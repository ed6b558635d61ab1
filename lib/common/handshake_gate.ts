/** A cap on connections still in their handshake, so a slowloris flood cannot use up sockets. */
import { logger } from "./logging.ts";

const log = logger("guard");

/**
 * Counts connections between accept and the end of their handshake. When `max` are waiting,
 * a new one makes room by closing the oldest waiting one: a flood of stalled connections then
 * churns through itself, while an honest client, whose handshake takes milliseconds, finishes
 * long before it would be the oldest. `max` of 0 means no cap.
 *
 * @example
 * const gate = new HandshakeGate(1024);
 * gate.enter(peer);
 * await handshake(peer);
 * gate.leave(peer);
 */
/** Anything a gate can close: a peer, or a raw socket still in its TLS handshake. */
export interface Closable {
  close(): void;
}

export class HandshakeGate {
  readonly max: number;
  readonly #waiting = new Set<Closable>();
  #evicted = 0;
  #lastWarning = -Infinity;

  constructor(max: number) {
    this.max = max;
  }

  /** Counts `peer` as in handshake, closing the oldest waiting connection when full. */
  enter(peer: Closable): void {
    if (this.max > 0 && this.#waiting.size >= this.max) {
      const oldest = this.#waiting.values().next().value!;
      this.#waiting.delete(oldest);
      oldest.close();
      this.#evicted++;
      const now = performance.now();
      if (now - this.#lastWarning >= 60_000) {
        this.#lastWarning = now;
        log.warn(
          "{max} connections are in handshake at once (a slowloris flood?); closing the oldest ones ({evicted} so far)",
          { max: this.max, evicted: this.#evicted },
        );
      }
    }
    this.#waiting.add(peer);
  }

  /** The handshake of `peer` ended (done or failed); safe to call more than once. */
  leave(peer: Closable): void {
    this.#waiting.delete(peer);
  }

  /** Connections in handshake now. */
  get size(): number {
    return this.#waiting.size;
  }

  /** Connections closed to make room since start. */
  get evicted(): number {
    return this.#evicted;
  }
}
