/**
 * One Mux.Cool sub-connection as a `Conn` (`lib/common/net/conn.ts`), so a `Peer` wraps it and
 * the one relay, the sessions and the UDP associations run on it unchanged, on either side.
 * Reads come from the frames the tunnel's reader queued for this session; writes leave as Keep
 * frames (the client's first as New), `closeWrite` as End, and `close` before that as End with
 * the error bit.
 *
 * A UDP session speaks Trojan UDP frames on this side (what `relayUdp` and the local's
 * association read and write): each datagram the other side sent becomes one frame addressed
 * with the frame's own address (Xray, our remote) or the session's (V2Ray), and each frame
 * written leaves as one Keep frame with its address (the client's first as New).
 */
import { decodeAddress } from "../../protocol/address.ts";
import type { Destination } from "../../protocol/address.ts";
import { encodeMuxFrame, MuxStatus } from "../../protocol/mux_cool.ts";
import type { MuxTarget } from "../../protocol/mux_cool.ts";
import { encodeTrojanFrame, MAX_UDP_PAYLOAD, splitTrojanFrame } from "../../protocol/trojan_udp.ts";
import { concat } from "../net/peer.ts";
import type { Conn } from "../net/conn.ts";

/** Largest DATA of a Keep frame this side writes: small enough for sessions to interleave. */
const MAX_DATA = 16 * 1024;
/**
 * Largest UDP datagram to a peer that has not shown it is Xray (or our remote): V2Ray 4.34
 * reads UDP frames into 2 KiB buffers and ends the whole tunnel on a larger one ("packet size
 * too large"), on its client and on its server.
 */
const V2RAY_UDP_MAX = 2048;
/**
 * How long a server's session lives on after the client's End once its data reached the
 * destination. V2Ray and Xray close a session both ways on End (their app connection is gone),
 * so whatever the destination still sends has no reader: a destination that closes on the FIN
 * (most do) ends the session cleanly within this, any other is closed.
 */
export const LINGER_MS = 1_000;

/** What a stream tells the tunnel that carries it. */
export interface MuxTunnelSide {
  /** Writes one or more whole frames into the tunnel, in call order. */
  send(frames: Uint8Array): Promise<void>;
  /** Bytes of this stream the relay took off its queue (the tunnel may read again). */
  taken(stream: MuxStream, bytes: number): void;
  /** The stream closed: forget its id. */
  closed(stream: MuxStream): void;
  /** Traffic either way, for the tunnel's idle timer. */
  active(): void;
}

/** Why reads and writes of a stream fail once its tunnel is gone. */
export class MuxTunnelGone extends Error {
  constructor(readonly reason: string) {
    super(`the mux tunnel ended: ${reason}`);
    this.name = "MuxTunnelGone";
  }
}

/**
 * One sub-connection: a queue of the other side's data, filled by the tunnel's reader, and a
 * writer of frames into the tunnel. The `client` opens it (its first frame is New, with the
 * target); the `server` answers one the client opened.
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
  /** The other side sent End: reads end once the queue is empty. */
  #peerEnded = false;
  /** This side sent End (or End with error). */
  #ended = false;
  /** The client has sent its New frame (the server's is implied). */
  #announced: boolean;
  #gone: Error | null = null;
  /** Seen from Xray or our remote (a UDP Keep frame with an address): larger datagrams are safe. */
  #xray = false;
  /** A UDP session's default address: the New frame's target (the client's first datagram's). */
  #udpDefault: Destination;
  /** Part of a Trojan UDP frame written by the association and not yet whole. */
  #partial: Uint8Array | null = null;
  #linger: ReturnType<typeof setTimeout> | undefined;

  constructor(
    readonly id: number,
    readonly target: MuxTarget,
    readonly side: MuxTunnelSide,
    readonly tunnelConn: Pick<Conn, "localAddr" | "remoteAddr">,
    readonly role: "client" | "server" = "server",
  ) {
    this.#announced = role === "server";
    this.#udpDefault = this.destination;
  }

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

  /** Why the tunnel under this stream failed, once it did (not set by a stall or a reset). */
  get lost(): string | null {
    return this.#gone instanceof MuxTunnelGone ? this.#gone.reason : null;
  }

  /**
   * Queues what a New or Keep frame carried (copied: the frame is a view into the tunnel's
   * read buffer); for UDP one datagram, to or from `address` (a Keep frame's own) or the
   * session's default.
   */
  push(data: Uint8Array, address?: Destination): void {
    if (this.#gone || (this.#ended && this.#peerEnded)) return;
    let bytes: Uint8Array;
    if (this.target.network === "udp") {
      if (address) this.#xray = true;
      // Larger than a Trojan frame may carry: the association drops it after counting.
      bytes = encodeTrojanFrame(address ?? this.#udpDefault, data);
    } else bytes = data.slice();
    if (bytes.length === 0) return;
    this.#chunks.push(bytes);
    this.queued += bytes.length;
    this.#wake();
  }

  /**
   * The other side sent End for this session: the relay reads what is queued, then the end;
   * with the error bit, reads fail at once (the server's dial failed, or the client reset).
   */
  peerEnd(error = false): void {
    if (this.role === "client") {
      if (this.#peerEnded) return; // V2Ray answers a Keep frame for a session it closed with End
      this.#peerEnded = true;
      // After this side's End, V2Ray closes the session, its copy from the destination then
      // fails on the closed pipe, and its End carries the error bit though nothing went wrong:
      // what came is read, then the end, as after a clean End.
      if (error && !this.#ended) {
        this.#fail(new Deno.errors.ConnectionReset("the remote reset the sub-connection"));
      }
      this.#wake();
      return;
    }
    if (this.#peerEnded || error) {
      // A second End: the client has forgotten the session (V2Ray answers our Keep frames
      // for a session it closed with End). With the error bit: the client gave the session up
      // (its app stopped reading, or reset). Either way nothing more can reach it: the session
      // ends now, rather than streaming its destination into a tunnel that drops it.
      this.#peerEnded = true;
      if (error) this.#fail(new Deno.errors.ConnectionReset("the client reset the sub-connection"));
      this.session?.abort();
      return;
    }
    this.#peerEnded = true;
    this.#wake();
  }

  /** The tunnel is gone: every read and write fails from now on. */
  fail(reason: string): void {
    this.#fail(new MuxTunnelGone(reason));
  }

  /**
   * This side gives the session up (its reader stalled the tunnel): End with the error bit goes
   * to the other side, and reads and writes fail with `reason`.
   */
  reset(reason: string): void {
    this.close();
    this.#fail(new Deno.errors.ConnectionReset(reason));
  }

  #fail(error: Error): void {
    this.#gone ??= error;
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
      if (this.#peerEnded) {
        if (this.role === "server") {
          this.#linger ??= setTimeout(() => this.session?.abort(), LINGER_MS);
        }
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
    await this.side.send(this.#frame(data));
    return n;
  }

  /**
   * The client's New frame without data, for a session whose app has sent nothing yet (a
   * server that speaks first); a no-op once announced.
   */
  announce(): void {
    if (this.#announced || this.#gone || this.target.network === "udp") return;
    this.side.send(this.#frame()).catch(() => {});
  }

  /** The next frame of a TCP session: New (with the target) for the client's first. */
  #frame(data?: Uint8Array): Uint8Array {
    const status = this.#announced ? MuxStatus.keep : MuxStatus.new;
    this.#announced = true;
    return encodeMuxFrame({
      id: this.id,
      status,
      error: false,
      ...(status === MuxStatus.new ? { target: this.target } : {}),
      ...(data ? { data } : {}),
    });
  }

  /**
   * Turns the Trojan frames written (a client's datagrams, a server's replies) into Keep frames
   * with their address (the client's first into New).
   */
  async #writeDatagrams(p: Uint8Array): Promise<void> {
    const bytes = this.#partial ? concat(this.#partial, p) : p;
    this.#partial = null;
    const frames: Uint8Array[] = [];
    let at = 0;
    const limit = this.#xray ? MAX_UDP_PAYLOAD : V2RAY_UDP_MAX;
    for (let raw; (raw = splitTrojanFrame(bytes, at)); at = raw.end) {
      if (raw.payload.length > limit) continue;
      const address = decodeAddress(raw.address)!.value;
      const status = this.#announced ? MuxStatus.keep : MuxStatus.new;
      if (!this.#announced) this.#udpDefault = address;
      this.#announced = true;
      frames.push(encodeMuxFrame({
        id: this.id,
        status,
        error: false,
        target: { network: "udp", ...address },
        data: raw.payload,
      }));
    }
    if (at < bytes.length) this.#partial = bytes.slice(at);
    if (frames.length > 0) await this.side.send(frames.reduce(concat));
  }

  /** Sends End: this side has nothing more to send; reads go on until the other side's End. */
  async closeWrite(): Promise<void> {
    if (this.#ended || this.#gone) return;
    this.announce();
    this.#ended = true;
    // A UDP session that never sent a datagram was never opened: nothing to end.
    if (!this.#announced) return;
    await this.side.send(encodeMuxFrame({ id: this.id, status: MuxStatus.end, error: false }))
      .catch(() => {});
  }

  /**
   * Ends the session; an End with the error bit goes first when this side had not ended it
   * cleanly (a refusal, a failed dial, a reset, a kick).
   */
  close(): void {
    if (!this.#ended && !this.#gone && this.#announced) {
      this.#ended = true;
      this.side.send(encodeMuxFrame({ id: this.id, status: MuxStatus.end, error: true }))
        .catch(() => {});
    }
    this.#ended = true;
    this.#peerEnded = true;
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
