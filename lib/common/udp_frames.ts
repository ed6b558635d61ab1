/** Reading a UDP association's tunnel frame by frame, for both programs. */
import { ProtocolError } from "../protocol/errors.ts";
import { decodeTrojanFrame } from "../protocol/trojan_udp.ts";
import type { TrojanDatagram } from "../protocol/trojan_udp.ts";
import type { Peer } from "./peer.ts";

/** How reading frames ended: the peer closed, sent what is not a frame, or failed. */
export type FramesEnd =
  | { kind: "closed" }
  | { kind: "malformed"; error: ProtocolError }
  | { kind: "failed"; error: unknown };

/**
 * Reads Trojan UDP frames from `tunnel` and hands each to `handle`, awaiting it before reading
 * on (a frame spanning reads is buffered until whole, at most `MAX_FRAME` bytes). Ends when the
 * tunnel closes or fails, a frame cannot be followed, or `handle` returns `false`.
 *
 * @example const end = await eachFrame(tunnel, async ({ destination, payload }) => send(payload));
 */
export async function eachFrame(
  tunnel: Peer,
  handle: (frame: TrojanDatagram) => Promise<boolean | void> | boolean | void,
): Promise<FramesEnd> {
  for (;;) {
    let frame: TrojanDatagram;
    try {
      frame = await tunnel.readFrame(decodeTrojanFrame);
    } catch (error) {
      if (error instanceof ProtocolError) return { kind: "malformed", error };
      if (error instanceof Deno.errors.UnexpectedEof) return { kind: "closed" };
      return { kind: "failed", error };
    }
    if (await handle(frame) === false) return { kind: "closed" };
  }
}

/** Most bytes of frames waiting for the tunnel; a datagram past it is dropped, as UDP may. */
const MAX_QUEUED = 256 * 1024;

/** What a {@linkcode FrameWriter} reports: the tunnel took these frames, or failed. */
export interface FrameWriterEvents {
  /** The tunnel took `frames` frames carrying `payload` bytes (what accounting charges). */
  written?(payload: number, frames: number): void;
  /** A write failed; called once, and later pushes are refused. */
  failed(error: unknown): void;
}

/**
 * Writes frames to a tunnel without making the UDP receive loop wait for TLS: the first frame
 * goes at once, frames that arrive while a write is in flight are joined into the next single
 * write (fewer TLS records and writes when datagrams come faster than one write takes).
 * Bounded: {@linkcode push} refuses a frame once {@linkcode MAX_QUEUED} bytes wait.
 *
 * @example
 * const writer = new FrameWriter(tunnel, { failed: () => end("server-reset") });
 * if (!writer.push(encodeTrojanFrame(destination, payload), payload.length)) drops.drop("busy");
 */
export class FrameWriter {
  readonly #tunnel: Peer;
  readonly #events: FrameWriterEvents;
  #queue: Uint8Array[] = [];
  #queued = 0;
  #payload = 0;
  #writing = false;
  #failed = false;

  constructor(tunnel: Peer, events: FrameWriterEvents) {
    this.#tunnel = tunnel;
    this.#events = events;
  }

  /**
   * Queues `frame`, which carries `payload` bytes of datagram, to be written as soon as the
   * tunnel takes it; false when it was refused (the queue is full, or the tunnel failed).
   */
  push(frame: Uint8Array, payload: number): boolean {
    if (this.#failed || this.#queued + frame.length > MAX_QUEUED) return false;
    this.#queue.push(frame);
    this.#queued += frame.length;
    this.#payload += payload;
    if (!this.#writing) this.#drain();
    return true;
  }

  async #drain(): Promise<void> {
    this.#writing = true;
    try {
      while (this.#queue.length > 0) {
        const frames = this.#queue;
        const payload = this.#payload;
        this.#queue = [];
        this.#queued = 0;
        this.#payload = 0;
        await this.#tunnel.write(frames.length === 1 ? frames[0] : join(frames));
        this.#events.written?.(payload, frames.length);
      }
    } catch (error) {
      this.#failed = true;
      this.#events.failed(error);
    } finally {
      this.#writing = false;
    }
  }
}

function join(frames: Uint8Array[]): Uint8Array {
  let length = 0;
  for (const frame of frames) length += frame.length;
  const out = new Uint8Array(length);
  let at = 0;
  for (const frame of frames) {
    out.set(frame, at);
    at += frame.length;
  }
  return out;
}
