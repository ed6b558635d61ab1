/**
 * SOCKS5 UDP ASSOCIATE on the local (RFC 1928 §7): a UDP socket on the listen address for the
 * app, one TLS tunnel to the remote (CMD 3) for the association's datagrams, both ways. Only
 * the client that asked may send (see {@linkcode allowedSource}); fragments are dropped; the
 * association ends with its TCP control connection, or when the remote closes the tunnel.
 */
import { formatHostPort } from "../../protocol/address.ts";
import { AddressDecoder } from "../../protocol/address_memo.ts";
import type { Destination } from "../../protocol/address.ts";
import { encodeReply, Reply } from "../../protocol/socks5.ts";
import { socksDatagram, splitSocksDatagram } from "../../protocol/socks5_udp.ts";
import { encodeTrojanFrame, MAX_UDP_PAYLOAD } from "../../protocol/trojan_udp.ts";
import { TrojanCommand } from "../../protocol/trojan.ts";
import type { Peer } from "../../common/net/peer.ts";
import type { Meter } from "../../common/net/relay.ts";
import { ipBytes } from "../../common/security/cidr.ts";
import { logger } from "../../common/ops/logging.ts";
import { UdpDrops } from "../../common/udp/udp_drops.ts";
import { eachFrame, FrameWriter } from "../../common/udp/udp_frames.ts";
import {
  bindUdp,
  closeUdp,
  formatSource,
  receiveEach,
  sourceOf,
} from "../../common/udp/udp_socket.ts";
import type { ConnectionInfo } from "./connections.ts";
import { replyForTunnelError } from "./socks_session.ts";
import { TunnelError } from "../tunnel/tunnel.ts";
import type { TunnelDialer } from "../tunnel/tunnel.ts";

const log = logger("local", "udp");

/** What an association needs from the local server. */
export interface UdpAssociateOptions {
  dialer: TunnelDialer;
  /** The proxy's listen address: the UDP socket binds there. */
  listenHost: string;
  /** The association's row in the connection table: destination and datagram counts. */
  info: ConnectionInfo;
  /** Count bytes into the row and the totals (see `ConnectionTable.meters`). */
  meters: { up: Meter; down: Meter };
}

/**
 * Where an association's datagrams must come from: the address and port the client named in
 * DST.ADDR/DST.PORT where it named them, else the TCP control connection's address and (port
 * 0) the first port a datagram comes from. With 0.0.0.0:0, which most apps send, another
 * program on the client's host (or behind its NAT) that sends first still takes the
 * association: nothing in a SOCKS5 datagram says who sent it.
 *
 * @example allowedSource({ host: "0.0.0.0", port: 0 }, { host: "127.0.0.1", port: 40000 });
 * // { host: "127.0.0.1", ip: <16 bytes>, port: 0 }
 */
export function allowedSource(
  expected: Destination,
  control: Destination,
): { host: string; ip: Uint8Array; port: number } {
  const named = ipBytes(expected.host);
  // 0.0.0.0 comes out of ipBytes as ::ffff:0.0.0.0, :: as sixteen zeros: both say "any".
  const unspecified = !named ||
    named.every((byte, i) => byte === 0 || ((i === 10 || i === 11) && byte === 0xff));
  const host = unspecified ? control.host : sourceOf({
    transport: "udp",
    hostname: expected.host,
    port: 0,
  }).host;
  return { host, ip: unspecified ? ipBytes(control.host)! : named, port: expected.port };
}

/**
 * Serves a UDP ASSOCIATE request whose reply has not been sent yet: binds the UDP socket,
 * opens the tunnel (a failure is answered with the matching REP), answers BND.ADDR/BND.PORT,
 * then relays until the association ends. `expected` is the request's DST.ADDR/DST.PORT: where
 * the client says it will send from ({@linkcode allowedSource}).
 *
 * @returns why the association ended, in the access log's words
 * @example return await udpAssociate(client, request.destination, { dialer, listenHost, info, meters });
 */
export async function udpAssociate(
  control: Peer,
  expected: Destination,
  options: UdpAssociateOptions,
): Promise<string> {
  const { dialer, info, meters } = options;
  info.protocol = "UDP";
  info.destination = "-";
  const datagrams = info.datagrams = { up: 0, down: 0 };
  let socket: Deno.DatagramConn;
  try {
    socket = bindUdp(options.listenHost);
  } catch (error) {
    await control.write(encodeReply(Reply.generalFailure)).catch(() => {});
    return `refused (no UDP socket: ${(error as Error).message})`;
  }
  let tunnel: Peer;
  try {
    tunnel = await dialer.connect();
  } catch (error) {
    closeUdp(socket);
    if (!(error instanceof TunnelError)) throw error;
    await control.write(encodeReply(replyForTunnelError(error))).catch(() => {});
    log.warn("{client} UDP: {error}", { client: info.client, error });
    return `tunnel failed (${error.kind})`;
  }
  // The app is told the address it reached the proxy on, with the UDP socket's port.
  const bound = {
    host: sourceOf(control.conn.localAddr).host,
    port: (socket.addr as Deno.NetAddr).port,
  };
  const client = allowedSource(expected, sourceOf(control.conn.remoteAddr));
  const clientIp = client.ip;
  let clientPort = client.port;
  const drops = new UdpDrops(log, info.client);
  let reason = "";
  let resolveEnded!: () => void;
  const ended = new Promise<void>((resolve) => resolveEnded = resolve);
  const end = (why: string) => {
    if (reason) return;
    reason = why;
    closeUdp(socket);
    tunnel.close();
    control.close();
    resolveEnded();
  };
  // The remote says nothing before the first frame: an early answer means it closed the
  // tunnel (its header timeout passed while the app was quiet); a fresh one is opened then.
  let headerSent = false;
  let closedEarly = false;
  tunnel.readAhead().then(() => closedEarly ||= !headerSent, () => closedEarly = true);
  try {
    await control.write(encodeReply(Reply.succeeded, bound));
  } catch {
    end("client-reset");
  }

  // The last source checked, so a flow from the client is compared as two values.
  let checked: { hostname: string; port: number; ok: boolean } = {
    hostname: "",
    port: 0,
    ok: false,
  };
  const fromClient = (from: Deno.Addr): boolean => {
    const { hostname, port } = from as Deno.NetAddr;
    if (hostname === checked.hostname && port === checked.port && clientPort !== 0) {
      return checked.ok;
    }
    const source = sourceOf(from);
    const ip = source.host === client.host ? clientIp : ipBytes(source.host);
    if (!ip || ip.some((byte, i) => byte !== clientIp[i])) return false;
    if (clientPort === 0) clientPort = source.port;
    checked = { hostname, port, ok: source.port === clientPort };
    return checked.ok;
  };

  const inward = async () => {
    const app: Deno.NetAddr = { transport: "udp", hostname: client.host, port: clientPort };
    const how = await eachFrame(tunnel, async ({ address, payload }) => {
      if (payload.length > MAX_UDP_PAYLOAD) {
        return drops.drop("reply too large", `${payload.length} bytes`);
      }
      app.port = clientPort;
      try {
        await socket.send(socksDatagram(address, payload), app);
      } catch (error) {
        if (reason) return false;
        return drops.drop("send to the app failed", (error as Error).message);
      }
      meters.down.take(payload.length);
      datagrams.down++;
    });
    if (how.kind === "malformed") {
      log.debug("{client}: the remote sent {error}", { client: info.client, error: how.error });
    }
    end(how.kind === "closed" ? "remote-closed" : "server-reset");
  };

  const outward = async () => {
    const decoder = new AddressDecoder();
    await receiveEach(socket, async (datagram, from) => {
      if (!fromClient(from)) return drops.drop("not from the client", formatSource(from));
      let raw;
      let destination: Destination;
      try {
        raw = splitSocksDatagram(datagram);
        if (!raw) return drops.drop("truncated", `${datagram.length} bytes`);
        destination = decoder.decode(raw.address);
      } catch (error) {
        return drops.drop("malformed", (error as Error).message);
      }
      const { frag, address, payload } = raw;
      if (frag !== 0) return drops.drop("fragment", `FRAG ${frag}`);
      if (payload.length > MAX_UDP_PAYLOAD) {
        return drops.drop("too large", `${payload.length} bytes`);
      }
      if (writer) {
        if (!writer.push(address, payload)) drops.drop("tunnel busy");
        return;
      }
      try {
        await sendHeader(destination, encodeTrojanFrame(destination, payload));
      } catch {
        end("server-reset");
        return false;
      }
      meters.up.take(payload.length);
      datagrams.up++;
    });
    end("error");
  };

  const loops: Promise<void>[] = [];
  /** Frames after the first, once the header is out. */
  let writer: FrameWriter | undefined;
  const sendHeader = async (destination: Destination, frame: Uint8Array) => {
    if (closedEarly) {
      tunnel.close();
      tunnel = await dialer.connect();
    }
    headerSent = true;
    info.destination = formatHostPort(destination);
    // Header and first frame in one write: sing-box's server reads the header in one read.
    await tunnel.write(dialer.header(destination, frame, TrojanCommand.udpAssociate));
    writer = new FrameWriter(tunnel, {
      written(payload, frames) {
        meters.up.take(payload);
        datagrams.up += frames;
      },
      failed: () => end("server-reset"),
    });
    loops.push(inward());
  };

  const watchControl = async () => {
    try {
      while (await control.read() !== null) {
        // Nothing more is expected on the control connection; whatever comes is ignored.
      }
      end("done");
    } catch {
      end("client-reset");
    }
  };

  if (!reason) loops.push(outward(), watchControl());
  await ended;
  await Promise.allSettled(loops);
  drops.report();
  return reason;
}
