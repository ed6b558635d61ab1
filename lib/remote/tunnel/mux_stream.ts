/**
 * One Mux.Cool sub-connection as a `Conn` (lib/common/net/conn.ts), so a `Peer` wraps it and the one relay,
 * the CONNECT arm and the UDP association run on it unchanged. Reads come from the frames the
 * tunnel's reader queued for this session; writes leave as Keep frames, `closeWrite` as End,
 * and `close` before that as End with the error bit.
 *
 * A UDP session speaks Trojan UDP frames on this side (what `relayUdp` reads and writes):
 * each datagram the client sent becomes one frame addressed to the frame's target (Xray) or
 * the session's (V2Ray), and each reply frame leaves as one Keep frame with its source address.
 */
import { decodeAddress } from "../../protocol/address.ts";
import type { Destination } from "../../protocol/address.ts";
import { encodeMuxFrame, MuxStatus } from "../../protocol/mux_cool.ts";
import type { MuxTarget } from "../../protocol/mux_cool.ts";
import { encodeTrojanFrame, MAX_UDP_PAYLOAD, splitTrojanFrame } from "../../protocol/trojan_udp.ts";
import { concat } from "../../common/net/peer.ts";
import type { Peer } from "../../common/net/peer.ts";
import type { Conn } from "../../common/net/conn.ts";

/** Largest DATA of a Keep frame this side writes: small enough for sessions to interleave. */
const MAX_DATA = 16 * 1024;
/**
 * Largest UDP reply to a client that has not shown it is Xray: V2Ray 4.34 reads UDP frames into
 * 2 KiB buffers and ends the whole tunnel on a larger one ("packet size too large").
 */
const V2RAY_UDP_MAX = 2048;
/**
 * How long a session lives on after the client's End once its data reached the destination.
 * V2Ray and Xray close a session both ways on End (their app connection is gone), so whatever
 * the destination still sends has no reader: a destination that closes on the FIN (most do)
 * ends the session cleanly within this, any other is closed.
 */
export const LINGER_MS = 1_000;

/** What a stream tells the tunnel that carries it. */
export interface MuxTunnelSide {
  /** The tunnel's connection, where frames are written. */
  readonly peer: Peer;
  /** Bytes of this stream the relay took off its queue (the tunnel may read again). */
  taken(stream: MuxStream, bytes: number): void;
  /** The stream closed: forget its id. */
  closed(stream: MuxStream): void;
  /** Traffic either way, for the tunnel's idle timer. */
  active(): void;
}

/** Why reads and writes of a stream fail once its tunnel is gone. */
export class MuxTunnelGone extends Error {
  constructor(reason: string) {
    super(`the mux tunnel ended: ${reason}`);
    this.name = "MuxTunnelGone";
  }
}

/**
 * One sub-connection: a queue of the client's data, filled by the tunnel's reader, and a
 * writer of frames into the tunnel.
 *
 * @example
 * const stream = new MuxStream(1, { network: "tcp", host: "example.com", port: 443 }, side, conn);
 * stream.push(frame.data);
 * await connect(new Peer(stream), account, stream.target, session, options);
 */
export class MuxStream implements Conn {
  /** Bytes queued and not yet read by the relay. */
  queued = 0;
  /** Bytes the relay has read since the session opened (progress, for the tunnel's reader). */
  takenTotal = 0;
  /** The session's own controller, once the server made it one (a kick or a stall aborts it). */
  session?: AbortController;
  readonly #chunks: Uint8Array[] = [];
  #waiting: (() => void) | null = null;
  /** The client sent End: reads end once the queue is empty. */
  #clientEnded = false;
  /** This side sent End (or End with error). */
  #ended = false;
  #gone: MuxTunnelGone | null = null;
  /** Seen from Xray (a UDP Keep frame with an address): larger replies are safe. */
  #xray = false;
  /** Part of a Trojan UDP frame written by the association and not yet whole. */
  #partial: Uint8Array | null = null;
  #linger: ReturnType<typeof setTimeout> | undefined;

  constructor(
    readonly id: number,
    readonly target: MuxTarget,
    readonly side: MuxTunnelSide,
    readonly tunnelConn: Conn,
  ) {}

  get localAddr(): Deno.NetAddr {
    return this.tunnelConn.localAddr;
  }

  get remoteAddr(): Deno.NetAddr {
    return this.tunnelConn.remoteAddr;
  }

  /** Where the session goes, without its network. */
  get destination(): Destination {
    return { host: this.target.host, port: this.target.port };
  }

  /**
   * Queues what a New or Keep frame carried (copied: the frame is a view into the tunnel's
   * read buffer); for UDP one datagram, to `to` (a Keep frame's own address) or the target.
   */
  push(data: Uint8Array, to?: MuxTarget): void {
    if (this.#ended && this.#clientEnded) return;
    let bytes: Uint8Array;
    if (this.target.network === "udp") {
      if (to) this.#xray = true;
      // Larger than a Trojan frame may carry: relayUdp drops it after counting, as for Trojan.
      bytes = encodeTrojanFrame(to ?? this.target, data);
    } else bytes = data.slice();
    if (bytes.length === 0) return;
    this.#chunks.push(bytes);
    this.queued += bytes.length;
    this.#wake();
  }

  /** The client sent End for this session: the relay reads what is queued, then the end. */
  clientEnd(): void {
    if (this.#clientEnded) {
      // A second End: the client has forgotten the session (V2Ray answers our Keep frames
      // for a session it closed with End). Nothing more can reach it.
      this.session?.abort();
      return;
    }
    this.#clientEnded = true;
    this.#wake();
  }

  /** The tunnel is gone: every read and write fails from now on. */
  fail(reason: string): void {
    this.#gone ??= new MuxTunnelGone(reason);
    this.#drop();
    this.#wake();
  }

  async read(p: Uint8Array): Promise<number | null> {
    for (;;) {
      if (this.#gone) throw this.#gone;
      const chunk = this.#chunks[0];
      if (chunk) {
        const n = Math.min(p.length, chunk.length);
        p.set(n === chunk.length ? chunk : chunk.subarray(0, n));
        if (n === chunk.length) this.#chunks.shift();
        else this.#chunks[0] = chunk.subarray(n);
        this.queued -= n;
        this.takenTotal += n;
        this.side.taken(this, n);
        return n;
      }
      if (this.#clientEnded) {
        this.#linger ??= setTimeout(() => this.session?.abort(), LINGER_MS);
        return null;
      }
      await new Promise<void>((resolve) => this.#waiting = resolve);
    }
  }

  async write(p: Uint8Array): Promise<number> {
    if (this.#gone) throw this.#gone;
    if (this.#ended) throw new Deno.errors.BrokenPipe("the sub-connection has ended");
    this.side.active();
    if (this.target.network === "udp") {
      await this.#writeDatagrams(p);
      return p.length;
    }
    const n = Math.min(p.length, MAX_DATA);
    const data = n === p.length ? p : p.subarray(0, n);
    await this.side.peer.write(
      encodeMuxFrame({ id: this.id, status: MuxStatus.keep, error: false, data }),
    );
    return n;
  }

  /** Turns the association's Trojan frames (replies) into Keep frames with their source. */
  async #writeDatagrams(p: Uint8Array): Promise<void> {
    const bytes = this.#partial ? concat(this.#partial, p) : p;
    this.#partial = null;
    const frames: Uint8Array[] = [];
    let at = 0;
    const limit = this.#xray ? MAX_UDP_PAYLOAD : V2RAY_UDP_MAX;
    for (let raw; (raw = splitTrojanFrame(bytes, at)); at = raw.end) {
      if (raw.payload.length > limit) continue;
      const from = decodeAddress(raw.address)!.value;
      frames.push(encodeMuxFrame({
        id: this.id,
        status: MuxStatus.keep,
        error: false,
        target: { network: "udp", ...from },
        data: raw.payload,
      }));
    }
    if (at < bytes.length) this.#partial = bytes.slice(at);
    if (frames.length > 0) await this.side.peer.write(frames.reduce(concat));
  }

  /** Sends End: this side has nothing more to send; reads go on until the client's End. */
  async closeWrite(): Promise<void> {
    if (this.#ended || this.#gone) return;
    this.#ended = true;
    await this.side.peer.write(encodeMuxFrame({ id: this.id, status: MuxStatus.end, error: false }))
      .catch(() => {});
  }

  /**
   * Ends the session; an End with the error bit goes first when this side had not ended it
   * cleanly (a refusal, a failed dial, a reset, a kick).
   */
  close(): void {
    if (!this.#ended && !this.#gone) {
      this.#ended = true;
      this.side.peer.write(encodeMuxFrame({ id: this.id, status: MuxStatus.end, error: true }))
        .catch(() => {});
    }
    this.#clientEnded = true;
    clearTimeout(this.#linger);
    this.#drop();
    this.#wake();
    this.side.closed(this);
  }

  #drop(): void {
    if (this.queued > 0) this.side.taken(this, this.queued);
    this.#chunks.length = 0;
    this.queued = 0;
  }

  #wake(): void {
    const waiting = this.#waiting;
    this.#waiting = null;
    waiting?.();
  }
}
