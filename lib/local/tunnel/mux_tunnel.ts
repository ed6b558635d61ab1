/**
 * One Mux.Cool tunnel of the local (`--mux`): a TLS connection to the remote whose Trojan header
 * names `v1.mux.cool`, carrying many app connections as sub-connections. Opening one costs a
 * frame, no round trip: the New frame goes out with the app's first bytes, and the remote's
 * Keep frames are read into each sub-connection's queue (bounds in `mux_sessions.ts`).
 */
import { decodeMuxFrame, MuxStatus } from "../../protocol/mux_cool.ts";
import type { MuxFrame, MuxTarget } from "../../protocol/mux_cool.ts";
import { ProtocolError } from "../../protocol/errors.ts";
import { concat } from "../../common/net/peer.ts";
import type { Peer } from "../../common/net/peer.ts";
import { logger } from "../../common/ops/logging.ts";
import { MuxStream } from "../../common/mux/mux_stream.ts";
import { MuxSessions } from "../../common/mux/mux_sessions.ts";
import type { MuxBounds } from "../../common/mux/mux_sessions.ts";

const log = logger("local", "mux");

/**
 * The local's queue bounds: a client has memory to spare, so a session may run ahead of its app
 * by about a TCP receive window (Linux autotunes one up to 6 MiB) before it holds the tunnel.
 */
export const LOCAL_MUX_BOUNDS: MuxBounds = {
  sessionQueue: 4 * 1024 * 1024,
  tunnelQueue: 16 * 1024 * 1024,
  stallMs: 3_000,
};

/** Session ids run 1 to 65535 and are never reused: the tunnel then takes no new ones. */
const LAST_ID = 0xffff;
/** Where a tunnel's address is shown before it is connected. */
const NO_ADDR: Deno.NetAddr = { transport: "tcp", hostname: "0.0.0.0", port: 0 };

/** What the route hears of a tunnel. */
export interface MuxTunnelHooks {
  /** Called once when the tunnel is gone (failed, or closed). */
  ended(tunnel: MuxTunnel): void;
  /** Its last sub-connection closed. */
  emptied(tunnel: MuxTunnel): void;
}

/**
 * A tunnel being dialled or open, with its sub-connections.
 *
 * @example
 * const tunnel = new MuxTunnel(1, dialer.connect(), dialer.header(MUX_COOL), LOCAL_MUX_BOUNDS, hooks);
 * await tunnel.ready;
 * const stream = tunnel.open({ network: "tcp", host: "example.com", port: 443 });
 */
export class MuxTunnel extends MuxSessions {
  /** Settles when the TLS connection is up; rejects with the dial's `TunnelError`. */
  readonly ready: Promise<void>;
  #peer: Peer | null = null;
  /** The Trojan header, sent with the first frame. */
  #header: Uint8Array | null;
  #nextId = 1;
  #lost: string | null = null;
  readonly #hooks: MuxTunnelHooks;

  /**
   * @param number the tunnel's number, shown on the dashboard
   * @param peer the TLS connection, being dialled
   * @param header the Trojan header for `v1.mux.cool`
   * @param hooks what the route hears of the tunnel
   */
  constructor(
    readonly number: number,
    peer: Promise<Peer>,
    header: Uint8Array,
    bounds: MuxBounds,
    hooks: MuxTunnelHooks,
  ) {
    super(bounds);
    this.#header = header;
    this.#hooks = hooks;
    this.ready = peer.then((p) => {
      this.#peer = p;
      if (this.#lost) p.close();
      else this.#read(p);
    }, (error) => {
      this.#end("its dial failed");
      throw error;
    });
  }

  /** Sub-connections open on it. */
  get load(): number {
    return this.streams.size;
  }

  /** Whether it takes new sub-connections: not failed, closed, or out of ids. */
  get usable(): boolean {
    return this.#lost === null && this.#nextId <= LAST_ID;
  }

  /** A new sub-connection to `target`; nothing is sent until its first write (or `announce`). */
  open(target: MuxTarget): MuxStream {
    const stream = new MuxStream(this.#nextId++, target, this, this, "client");
    this.streams.set(stream.id, stream);
    return stream;
  }

  get localAddr(): Deno.NetAddr {
    return this.#peer ? this.#peer.conn.localAddr : NO_ADDR;
  }

  get remoteAddr(): Deno.NetAddr {
    return this.#peer ? this.#peer.conn.remoteAddr : NO_ADDR;
  }

  async send(frames: Uint8Array): Promise<void> {
    if (!this.#peer) await this.ready;
    const header = this.#header;
    this.#header = null;
    await this.#peer!.write(header ? concat(header, frames) : frames);
  }

  active(): void {}

  override closed(stream: MuxStream): void {
    super.closed(stream);
    if (this.streams.size > 0) return;
    // Out of ids and empty: nothing will use it again.
    if (this.#nextId > LAST_ID) this.close("out of session ids");
    else this.#hooks.emptied(this);
  }

  /** Closes the tunnel; its sub-connections fail with `reason`. */
  close(reason = "closed by the local"): void {
    this.#end(reason);
    this.#peer?.close();
  }

  protected stalled(stream: MuxStream, ms: number): void {
    log.info("closing sub-connection {id} to {destination}: its app took no data for {ms} ms", {
      id: stream.id,
      destination: `${stream.target.host}:${stream.target.port}`,
      ms,
    });
    stream.reset(`its app took no data for ${ms} ms`);
  }

  async #read(peer: Peer): Promise<void> {
    let why = "the remote closed it";
    try {
      for (;;) await this.#handle(await peer.readFrame(decodeMuxFrame));
    } catch (error) {
      if (error instanceof ProtocolError) {
        why = `the remote sent a malformed frame: ${error.message}`;
      } else if (!(error instanceof Deno.errors.UnexpectedEof)) why = (error as Error).message;
    }
    peer.close();
    this.#end(why);
  }

  #handle(frame: MuxFrame): Promise<void> | void {
    const stream = this.streams.get(frame.id);
    switch (frame.status) {
      case MuxStatus.keep:
        // A session this side closed: its End is on the way; the data has nowhere to go.
        if (!stream || !frame.data) return;
        return this.push(stream, frame.data, frame.target);
      case MuxStatus.end:
        stream?.peerEnd(frame.error);
        return;
      case MuxStatus.new:
        throw new ProtocolError(`a server opened session ${frame.id}`);
      default:
        return; // KeepAlive
    }
  }

  #end(reason: string): void {
    if (this.#lost) return;
    this.#lost = reason;
    if (this.streams.size > 0) {
      log.info("mux tunnel #{number} ended: {reason}; {count} sub-connections with it", {
        number: this.number,
        reason,
        count: this.streams.size,
      });
    }
    for (const stream of this.streams.values()) stream.fail(reason);
    this.#hooks.ended(this);
  }
}
