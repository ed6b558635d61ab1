/** Reading a UDP association's tunnel frame by frame, for both programs. */
import type { Destination } from "../../protocol/address.ts";
import { AddressDecoder } from "../../protocol/address_memo.ts";
import { ProtocolError } from "../../protocol/errors.ts";
import { splitTrojanFrame, writeTrojanFrame } from "../../protocol/trojan_udp.ts";
import type { Peer } from "../net/peer.ts";

/** How reading frames ended: the peer closed, sent what is not a frame, or failed. */
export type FramesEnd =
  | { kind: "closed" }
  | { kind: "malformed"; error: ProtocolError }
  | { kind: "failed"; error: unknown };

/** One frame as {@linkcode eachFrame} hands it on: views valid until the handler settles. */
export interface Frame {
  destination: Destination;
  /** The destination as encoded on the wire (ATYP ADDR PORT), to copy into a reply as it is. */
  address: Uint8Array;
  payload: Uint8Array;
}

/**
 * Reads Trojan UDP frames from `tunnel` and hands each to `handle`, every whole frame of a read
 * in turn without waiting between them (the handler is awaited only when it returns a
 * promise); a frame spanning reads is buffered until whole, at most `MAX_FRAME` bytes. The
 * address of consecutive frames to the same destination is decoded once. Ends when the tunnel
 * closes or fails, a frame cannot be followed, or `handle` returns `false`.
 *
 * @example const end = await eachFrame(tunnel, ({ destination, payload }) => send(payload));
 */
export async function eachFrame(
  tunnel: Peer,
  handle: (frame: Frame) => Promise<boolean | void> | boolean | void,
): Promise<FramesEnd> {
  const decoder = new AddressDecoder();
  let rest: Uint8Array | null = null;
  for (;;) {
    let chunk: Uint8Array | null;
    try {
      chunk = await tunnel.read();
    } catch (error) {
      return { kind: "failed", error };
    }
    if (chunk === null) return { kind: "closed" };
    const bytes: Uint8Array = rest ? concat(rest, chunk) : chunk;
    rest = null;
    let at = 0;
    for (;;) {
      let frame: Frame;
      try {
        const raw = splitTrojanFrame(bytes, at);
        if (!raw) break;
        at = raw.end;
        frame = { destination: decoder.decode(raw.address), ...raw };
      } catch (error) {
        if (error instanceof ProtocolError) return { kind: "malformed", error };
        throw error;
      }
      let verdict = handle(frame);
      if (verdict instanceof Promise) verdict = await verdict;
      if (verdict === false) return { kind: "closed" };
    }
    // The part of a frame that did not fit, copied: the chunk's buffer is the reader's.
    if (at < bytes.length) rest = bytes.slice(at);
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

/** The first size of a writer's buffers; each doubles as needed, up to `MAX_QUEUED`. */
const FIRST_BUFFER = 16 * 1024;

/**
 * Writes frames to a tunnel without making the UDP receive loop wait for TLS: the first frame
 * goes at once, frames that arrive while a write is in flight are encoded one after another
 * into the next single write (fewer TLS records and writes when datagrams come faster than one
 * write takes). Two buffers take turns, so a frame costs no allocation. Bounded:
 * {@linkcode push} refuses a frame once {@linkcode MAX_QUEUED} bytes wait.
 *
 * @example
 * const writer = new FrameWriter(tunnel, { failed: () => end("server-reset") });
 * if (!writer.push(address, payload)) drops.drop("busy");
 */
export class FrameWriter {
  readonly #tunnel: Peer;
  readonly #events: FrameWriterEvents;
  #buffer: Uint8Array = new Uint8Array(FIRST_BUFFER);
  /** The other buffer, free while no write holds it. */
  #spare: Uint8Array | null = new Uint8Array(FIRST_BUFFER);
  #queued = 0;
  #frames = 0;
  #payload = 0;
  #writing = false;
  #failed = false;

  constructor(tunnel: Peer, events: FrameWriterEvents) {
    this.#tunnel = tunnel;
    this.#events = events;
  }

  /**
   * Queues a frame of `address` (encoded, ATYP ADDR PORT) and `payload` (at most 65535 bytes)
   * to be written as soon as the tunnel takes it; false when it was refused (the queue is
   * full, or the tunnel failed).
   */
  push(address: Uint8Array, payload: Uint8Array): boolean {
    const size = address.length + 4 + payload.length;
    if (this.#failed || this.#queued + size > MAX_QUEUED) return false;
    if (this.#queued + size > this.#buffer.length) this.#grow(this.#queued + size);
    this.#queued = writeTrojanFrame(this.#buffer, this.#queued, address, payload);
    this.#frames++;
    this.#payload += payload.length;
    if (!this.#writing) this.#drain();
    return true;
  }

  #grow(needed: number): void {
    let length = this.#buffer.length * 2;
    while (length < needed) length *= 2;
    const grown = new Uint8Array(Math.min(length, MAX_QUEUED));
    grown.set(this.#buffer.subarray(0, this.#queued));
    this.#buffer = grown;
  }

  async #drain(): Promise<void> {
    this.#writing = true;
    try {
      while (this.#queued > 0) {
        const out = this.#buffer;
        const length = this.#queued;
        const frames = this.#frames;
        const payload = this.#payload;
        this.#buffer = this.#spare ?? new Uint8Array(FIRST_BUFFER);
        this.#spare = null;
        this.#queued = 0;
        this.#frames = 0;
        this.#payload = 0;
        await this.#tunnel.write(out.subarray(0, length));
        this.#spare = out;
        this.#events.written?.(payload, frames);
      }
    } catch (error) {
      this.#failed = true;
      this.#events.failed(error);
    } finally {
      this.#writing = false;
    }
  }
}

function concat(a: Uint8Array, b: Uint8Array): Uint8Array {
  const out = new Uint8Array(a.length + b.length);
  out.set(a);
  out.set(b, a.length);
  return out;
}
