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
import { logger } from "../../common/ops/logging.ts";
import { UdpDrops } from "../../common/udp/udp_drops.ts";
import { eachFrame, FrameWriter } from "../../common/udp/udp_frames.ts";
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

/** What an association moved and why it ended, for the access line. */
export interface UdpAssociationResult {
  /** Payload bytes and datagrams sent towards destinations, and relayed back. */
  up: number;
  down: number;
  datagrams: { up: number; down: number };
  /** Datagrams dropped either way (too large, refused, malformed). */
  dropped: number;
  /** The first datagram's destination, `host:port` ("-" when none came). */
  destination: string;
  /** `done` (the client closed), `idle-timeout`, `aborted`, `bad-frame`, `client-reset`. */
  reason: string;
}

/**
 * Relays one association until the tunnel closes, a frame cannot be followed, the idle
 * timeout passes or the controller aborts; then closes the tunnel and the socket.
 *
 * @example
 * const result = await relayUdp(tunnel, { resolver, up, down, controller, idleTimeoutMs: 60_000, client });
 */
export async function relayUdp(
  tunnel: Peer,
  options: UdpAssociationOptions,
): Promise<UdpAssociationResult> {
  /** Opened for the first datagram the guard lets through; its receive loop starts then. */
  let socket: Deno.DatagramConn | undefined;
  let receiving: Promise<void> | undefined;
  const { controller } = options;
  const idle = watchIdle(options.idleTimeoutMs, options, controller);
  const drops = new UdpDrops(log, options.client);
  const result: UdpAssociationResult = {
    up: 0,
    down: 0,
    datagrams: { up: 0, down: 0 },
    dropped: 0,
    destination: "-",
    reason: "done",
  };
  let ended = false;
  const end = (reason: string) => {
    if (ended) return;
    ended = true;
    result.reason = reason;
    if (socket) closeUdp(socket);
    tunnel.close();
  };
  const onAbort = () =>
    end(controller.signal.reason instanceof Deno.errors.TimedOut ? "idle-timeout" : "aborted");
  controller.signal.addEventListener("abort", onAbort, { once: true });
  if (controller.signal.aborted) onAbort();

  const outward = async () => {
    // Where the last datagram went, so the next one to the same place reuses the address.
    let to: Deno.NetAddr = { transport: "udp", hostname: "", port: 0 };
    const how = await eachFrame(tunnel, async ({ destination, payload }) => {
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
      const wait = idle.up.take(payload.length, controller.signal);
      if (wait) await wait;
      if (ended) return false;
      if (to.hostname !== hostname || to.port !== destination.port) {
        to = { transport: "udp", hostname, port: destination.port };
      }
      if (!socket) {
        try {
          socket = bindUdpAnywhere();
        } catch (error) {
          // Out of descriptors, say: this datagram is lost, the next one tries again.
          return drops.drop("no UDP socket", (error as Error).message);
        }
        receiving = inward(socket);
      }
      try {
        await socket.send(payload, to);
      } catch (error) {
        if (ended) return false;
        return drops.drop("send failed", (error as Error).message);
      }
      idle.up.sent?.(payload.length);
      result.up += payload.length;
      result.datagrams.up++;
    });
    if (how.kind === "malformed") {
      log.debug("{client}: {error}; closing the association", {
        client: options.client,
        error: how.error,
      });
      end("bad-frame");
    } else end(how.kind === "closed" ? "done" : "client-reset");
  };

  const writer = new FrameWriter(tunnel, {
    written(payload, frames) {
      idle.down.sent?.(payload);
      result.down += payload;
      result.datagrams.down += frames;
    },
    failed: () => end("client-reset"),
  });
  const inward = async (socket: Deno.DatagramConn) => {
    const sources = new SourceEncoder();
    const error = await receiveEach(socket, async (datagram, from) => {
      if (datagram.length > MAX_UDP_PAYLOAD) {
        drops.drop("reply too large", `${datagram.length} bytes`);
        return;
      }
      const wait = idle.down.take(datagram.length, controller.signal);
      if (wait) await wait;
      if (ended) return false;
      if (!writer.push(sources.encode(from), datagram)) drops.drop("tunnel busy");
    });
    if (!ended) {
      log.debug("{client}: UDP receive failed: {error}", { client: options.client, error });
      end("error");
    }
  };

  await outward();
  await receiving;
  idle.stop();
  controller.signal.removeEventListener("abort", onAbort);
  result.dropped = drops.total;
  drops.report();
  return result;
}
