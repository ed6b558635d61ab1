/**
 * The remote's side of a Trojan UDP association (CMD 3): frames from the tunnel go out of one
 * UDP socket of the association's own, opened for the first datagram the destination guard
 * lets through (so an association whose every destination is refused holds no socket), each to
 * its frame's address after the guard; datagrams that come back to that socket, from any source (endpoint-independent,
 * "full cone", as games and calls need), go back down the tunnel as frames. The account's
 * meters limit and count both directions exactly as they do for a TCP relay.
 */
import { formatHostPort } from "../../protocol/address.ts";
import { MAX_UDP_PAYLOAD } from "../../protocol/trojan_udp.ts";
import { isBittorrentDatagram } from "../../rules/bittorrent.ts";
import type { Peer } from "../../common/net/peer.ts";
import type { Meter } from "../../common/net/relay.ts";
import { watchIdle } from "../../common/net/idle.ts";
import type { IdleWatch } from "../../common/net/idle.ts";
import { logger } from "../../common/ops/logging.ts";
import type { OutcomeKind, SessionOutcome } from "../../common/ops/session_events.ts";
import { UdpDrops } from "../../common/udp/udp_drops.ts";
import { eachFrame, FrameWriter } from "../../common/udp/udp_frames.ts";
import type { Frame } from "../../common/udp/udp_frames.ts";
import {
  bindUdpAnywhere,
  closeUdp,
  receiveEach,
  SourceEncoder,
} from "../../common/udp/udp_socket.ts";
import { DialError } from "./destination.ts";
import type { UdpResolver } from "./udp_resolver.ts";

const log = logger("remote", "udp");

/** What an association needs besides its tunnel. */
export interface UdpAssociationOptions {
  /** The destination guard with its name cache. */
  resolver: UdpResolver;
  /** The account's meters: the rate limit, usage and quota, as for TCP. */
  up?: Meter;
  down?: Meter;
  /**
   * The session's controller: aborting it (a kick, shutdown) ends the association; the idle
   * timeout aborts it too.
   */
  controller: AbortController;
  /** The association closes after this long with no datagram either way; 0 for never. */
  idleTimeoutMs: number;
  /** Names the association in debug lines (the client's address). */
  client: string;
  /** Drop BitTorrent datagrams (DHT, UDP tracker, uTP): `serve --block-bittorrent`. */
  blockBittorrent?: boolean;
  /** Hears of each datagram a block list or the BitTorrent block drops, with the reason. */
  blocked?: (reason: string) => void;
}

/** What an association moved and how it ended, for the access line. */
export interface UdpAssociationResult {
  /** Payload bytes and datagrams sent towards destinations, and relayed back. */
  up: number;
  down: number;
  datagrams: { up: number; down: number };
  /** Datagrams dropped either way (too large, refused, malformed). */
  dropped: number;
  /** The first datagram's destination, `host:port` ("-" when none came). */
  destination: string;
  /** `done` (the client closed), `idle-timeout`, `aborted`, `bad-frame`, `client-reset`, `error`. */
  outcome: SessionOutcome;
}

/**
 * One association on its tunnel: {@linkcode run} relays until the tunnel closes, a frame
 * cannot be followed, the idle timeout passes or the controller aborts; then closes the tunnel
 * and the socket.
 *
 * @example
 * const result = await new UdpAssociation(tunnel, { resolver, controller, idleTimeoutMs: 60_000, client }).run();
 */
export class UdpAssociation {
  readonly #tunnel: Peer;
  readonly #options: UdpAssociationOptions;
  readonly #controller: AbortController;
  readonly #idle: IdleWatch;
  readonly #drops: UdpDrops;
  readonly #writer: FrameWriter;
  /** Opened for the first datagram the guard lets through; its receive loop starts then. */
  #socket: Deno.DatagramConn | undefined;
  #receiving: Promise<void> | undefined;
  /** Where the last datagram went, so the next one to the same place reuses the address. */
  #to: Deno.NetAddr = { transport: "udp", hostname: "", port: 0 };
  #ended = false;
  readonly #result: UdpAssociationResult = {
    up: 0,
    down: 0,
    datagrams: { up: 0, down: 0 },
    dropped: 0,
    destination: "-",
    outcome: { kind: "done" },
  };
  readonly #onAbort = () =>
    this.#end(
      this.#controller.signal.reason instanceof Deno.errors.TimedOut ? "idle-timeout" : "aborted",
    );

  constructor(tunnel: Peer, options: UdpAssociationOptions) {
    this.#tunnel = tunnel;
    this.#options = options;
    this.#controller = options.controller;
    this.#idle = watchIdle(options.idleTimeoutMs, options, options.controller);
    this.#drops = new UdpDrops(log, options.client);
    const result = this.#result;
    const idle = this.#idle;
    this.#writer = new FrameWriter(tunnel, {
      written(payload, frames) {
        idle.down.sent?.(payload);
        result.down += payload;
        result.datagrams.down += frames;
      },
      failed: () => this.#end("client-reset"),
    });
  }

  /** Relays to the end; what moved and how it ended. */
  async run(): Promise<UdpAssociationResult> {
    const signal = this.#controller.signal;
    signal.addEventListener("abort", this.#onAbort, { once: true });
    if (signal.aborted) this.#onAbort();
    await this.#outward();
    await this.#receiving;
    this.#idle.stop();
    signal.removeEventListener("abort", this.#onAbort);
    this.#result.dropped = this.#drops.total;
    this.#drops.report();
    return this.#result;
  }

  /** Ends once, with `kind`: closes the socket and the tunnel. */
  #end(kind: OutcomeKind): void {
    if (this.#ended) return;
    this.#ended = true;
    this.#result.outcome = { kind };
    if (this.#socket) closeUdp(this.#socket);
    this.#tunnel.close();
  }

  /** Frames from the tunnel, each to its destination after the guard. */
  async #outward(): Promise<void> {
    const how = await eachFrame(this.#tunnel, (frame) => this.#send(frame));
    if (how.kind === "malformed") {
      log.debug("{client}: {error}; closing the association", {
        client: this.#options.client,
        error: how.error,
      });
      this.#end("bad-frame");
    } else this.#end(how.kind === "closed" ? "done" : "client-reset");
  }

  /** One frame's datagram out of the socket; false to stop reading frames. */
  async #send({ destination, payload }: Frame): Promise<boolean | void> {
    const options = this.#options;
    const result = this.#result;
    const drops = this.#drops;
    if (result.destination === "-") result.destination = formatHostPort(destination);
    if (payload.length > MAX_UDP_PAYLOAD) {
      return drops.drop("too large", `${payload.length} bytes`);
    }
    if (destination.port === 0) return drops.drop("port 0");
    if (options.blockBittorrent && isBittorrentDatagram(payload)) {
      options.blocked?.("bittorrent");
      return drops.drop("blocked", "a BitTorrent datagram");
    }
    let hostname: string;
    try {
      const resolved = options.resolver.resolve(destination);
      hostname = typeof resolved === "string" ? resolved : await resolved;
    } catch (error) {
      if (!(error instanceof DialError)) throw error;
      if (error.kind === "blocked") options.blocked?.(error.blockedBy);
      return drops.drop(error.kind, error.message);
    }
    const idle = this.#idle;
    const wait = idle.up.take(payload.length, this.#controller.signal);
    if (wait) await wait;
    if (this.#ended) return false;
    if (this.#to.hostname !== hostname || this.#to.port !== destination.port) {
      this.#to = { transport: "udp", hostname, port: destination.port };
    }
    if (!this.#socket) {
      try {
        this.#socket = bindUdpAnywhere();
      } catch (error) {
        // Out of descriptors, say: this datagram is lost, the next one tries again.
        return drops.drop("no UDP socket", (error as Error).message);
      }
      this.#receiving = this.#inward(this.#socket);
    }
    try {
      await this.#socket.send(payload, this.#to);
    } catch (error) {
      if (this.#ended) return false;
      return drops.drop("send failed", (error as Error).message);
    }
    idle.up.sent?.(payload.length);
    result.up += payload.length;
    result.datagrams.up++;
  }

  /** Datagrams back to `socket`, from any source, down the tunnel as frames. */
  async #inward(socket: Deno.DatagramConn): Promise<void> {
    const sources = new SourceEncoder();
    const drops = this.#drops;
    const down = this.#idle.down;
    const signal = this.#controller.signal;
    const error = await receiveEach(socket, async (datagram, from) => {
      if (datagram.length > MAX_UDP_PAYLOAD) {
        drops.drop("reply too large", `${datagram.length} bytes`);
        return;
      }
      const wait = down.take(datagram.length, signal);
      if (wait) await wait;
      if (this.#ended) return false;
      if (!this.#writer.push(sources.encode(from), datagram)) drops.drop("tunnel busy");
    });
    if (!this.#ended) {
      log.debug("{client}: UDP receive failed: {error}", { client: this.#options.client, error });
      this.#end("error");
    }
  }
}

/**
 * Relays one association until it ends (see {@linkcode UdpAssociation}).
 *
 * @example
 * const result = await relayUdp(tunnel, { resolver, up, down, controller, idleTimeoutMs: 60_000, client });
 */
export function relayUdp(
  tunnel: Peer,
  options: UdpAssociationOptions,
): Promise<UdpAssociationResult> {
  return new UdpAssociation(tunnel, options).run();
}
