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
import type { Peer } from "../../common/net/peer.ts";
import type { Meter } from "../../common/net/relay.ts";
import type { SessionOutcome } from "../../common/ops/session_events.ts";
import { ipBytes } from "../../common/security/cidr.ts";
import { logger } from "../../common/ops/logging.ts";
import { UdpDrops } from "../../common/udp/udp_drops.ts";
import { eachFrame, FrameWriter } from "../../common/udp/udp_frames.ts";
import {
  bindUdp,
  bindUdpAnywhere,
  closeUdp,
  formatSource,
  receiveEach,
  SourceEncoder,
  sourceOf,
} from "../../common/udp/udp_socket.ts";
import type { ConnectionInfo } from "./connections.ts";
import { replyForTunnelError } from "./socks_session.ts";
import { openRoute } from "./tunnel_session.ts";
import { TunnelError } from "../tunnel/tunnel.ts";
import type { Route, RouteConn } from "../tunnel/route.ts";
import type { RuleRoute } from "../tunnel/rule_route.ts";

const log = logger("local", "udp");

/** What an association needs from the local server. */
export interface UdpAssociateOptions {
  /** Where the association's tunnel goes. */
  route: Route;
  /** The proxy's listen address: the UDP socket binds there. */
  listenHost: string;
  /** The association's row in the connection table: destination and datagram counts. */
  info: ConnectionInfo;
  /** Count bytes into the row and the totals (see `ConnectionTable.meters`). */
  meters: { up: Meter; down: Meter };
  /**
   * The rules, which decide each datagram's route: `PROXY` through the association's tunnel
   * on `route` (opened at the first such datagram), `DIRECT` out of a local UDP socket, both
   * ways, `REJECT` dropped and counted. Absent: every datagram through the tunnel, opened
   * before the app is answered.
   */
  rules?: Pick<RuleRoute, "decide">;
  /** With `rules`: count the bytes of the datagrams that go straight out. */
  directMeters?: { up: Meter; down: Meter };
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

/** With rules, the tunnel could not be opened for a datagram: it is dropped, not the association. */
class NoTunnel extends Error {}

/** The header's destination until the first datagram names one (it is written with it). */
const NOWHERE: Destination = { host: "0.0.0.0", port: 0 };

/**
 * One UDP ASSOCIATE request whose reply has not been sent yet: {@linkcode run} binds the UDP
 * socket, opens the tunnel (a failure is answered with the matching REP), answers
 * BND.ADDR/BND.PORT, then relays until the association ends. `expected` is the request's
 * DST.ADDR/DST.PORT: where the client says it will send from ({@linkcode allowedSource}).
 *
 * @example return await new UdpAssociation(client, request.destination, { route, listenHost, info, meters }).run();
 */
export class UdpAssociation {
  readonly #control: Peer;
  readonly #expected: Destination;
  readonly #options: UdpAssociateOptions;
  readonly #datagrams = { up: 0, down: 0 };
  readonly #drops: UdpDrops;
  #socket!: Deno.DatagramConn;
  /**
   * The tunnel; replaced once if the remote closed it before the first datagram. With rules,
   * null until the first datagram the rules send through the remote.
   */
  #tunnel: RouteConn | null = null;
  /** With rules: the socket for `DIRECT` datagrams, bound at the first one. */
  #direct: Deno.DatagramConn | null = null;
  /** Where datagrams must come from; `#clientPort` is learned from the first one if 0. */
  #client!: { host: string; ip: Uint8Array; port: number };
  #clientPort = 0;
  /** The last source checked, so a flow from the client is compared as two values. */
  #checked = { hostname: "", port: 0, ok: false };
  /** Frames after the first, once the header is out. */
  #writer: FrameWriter | undefined;
  #headerSent = false;
  /** The remote closed the tunnel before the first datagram (see {@linkcode run}). */
  #closedEarly = false;
  #outcome: SessionOutcome | null = null;
  #ended!: () => void;
  readonly #loops: Promise<void>[] = [];

  constructor(control: Peer, expected: Destination, options: UdpAssociateOptions) {
    this.#control = control;
    this.#expected = expected;
    this.#options = options;
    this.#drops = new UdpDrops(log, options.info.client);
  }

  /**
   * Serves the association to its end.
   *
   * @returns how it ended; the control connection is closed by then
   */
  async run(): Promise<SessionOutcome> {
    const { info } = this.#options;
    info.protocol = "UDP";
    info.destination = "-";
    info.datagrams = this.#datagrams;
    try {
      this.#socket = bindUdp(this.#options.listenHost);
    } catch (error) {
      await this.#control.write(encodeReply(Reply.generalFailure)).catch(() => {});
      return { kind: "refused", detail: `no UDP socket: ${(error as Error).message}` };
    }
    if (!this.#options.rules) {
      let tunnel: RouteConn | SessionOutcome | undefined;
      try {
        tunnel = await openRoute(this.#options.route, NOWHERE, this, "udp");
      } finally {
        if (!tunnel) closeUdp(this.#socket);
      }
      if (!("peer" in tunnel)) return tunnel;
      this.#tunnelOpened(tunnel);
    }
    const control = this.#control;
    // The app is told the address it reached the proxy on, with the UDP socket's port.
    const bound = {
      host: sourceOf(control.conn.localAddr).host,
      port: (this.#socket.addr as Deno.NetAddr).port,
    };
    this.#client = allowedSource(this.#expected, sourceOf(control.conn.remoteAddr));
    this.#clientPort = this.#client.port;
    const ended = new Promise<void>((resolve) => this.#ended = resolve);
    try {
      await control.write(encodeReply(Reply.succeeded, bound));
    } catch {
      this.#end("client-reset");
    }
    if (!this.#outcome) this.#loops.push(this.#outward(), this.#watchControl());
    await ended;
    await Promise.allSettled(this.#loops);
    this.#drops.report();
    return this.#outcome!;
  }

  /** Keeps the tunnel, and watches it until its header is sent. */
  #tunnelOpened(tunnel: RouteConn): void {
    this.#tunnel = tunnel;
    this.#closedEarly = false;
    // The remote says nothing before the first frame: an early answer means it closed the
    // tunnel (its header timeout passed while the app was quiet); a fresh one is opened then.
    tunnel.peer.readAhead().then(
      () => this.#closedEarly ||= !this.#headerSent && this.#tunnel === tunnel,
      () => this.#closedEarly ||= this.#tunnel === tunnel,
    );
  }

  /** No tunnel: closes the socket and tells the app with the REP that fits. */
  async failed(error: TunnelError): Promise<void> {
    closeUdp(this.#socket);
    await this.#control.write(encodeReply(replyForTunnelError(error))).catch(() => {});
    log.warn("{client} UDP: {error}", { client: this.#options.info.client, error });
  }

  /** Ends the association once, with `kind`: closes the socket, the tunnel and the control. */
  #end(kind: SessionOutcome["kind"]): void {
    if (this.#outcome) return;
    const lost = this.#tunnel?.lost?.();
    this.#outcome = lost ? { kind: "tunnel-lost", detail: lost } : { kind };
    closeUdp(this.#socket);
    if (this.#direct) closeUdp(this.#direct);
    this.#tunnel?.peer.close();
    this.#control.close();
    this.#ended();
  }

  /** Whether a datagram from `from` is the client's (the first one may teach its port). */
  #fromClient(from: Deno.Addr): boolean {
    const { hostname, port } = from as Deno.NetAddr;
    const checked = this.#checked;
    if (hostname === checked.hostname && port === checked.port && this.#clientPort !== 0) {
      return checked.ok;
    }
    const client = this.#client;
    const source = sourceOf(from);
    const ip = source.host === client.host ? client.ip : ipBytes(source.host);
    if (!ip || ip.some((byte, i) => byte !== client.ip[i])) return false;
    if (this.#clientPort === 0) this.#clientPort = source.port;
    this.#checked = { hostname, port, ok: source.port === this.#clientPort };
    return this.#checked.ok;
  }

  /** Frames from the tunnel, to the app as SOCKS5 datagrams. */
  async #inward(): Promise<void> {
    const { info, meters } = this.#options;
    const drops = this.#drops;
    const datagrams = this.#datagrams;
    const socket = this.#socket;
    const app: Deno.NetAddr = { transport: "udp", hostname: this.#client.host, port: 0 };
    const how = await eachFrame(this.#tunnel!.peer, async ({ address, payload }) => {
      if (payload.length > MAX_UDP_PAYLOAD) {
        return drops.drop("reply too large", `${payload.length} bytes`);
      }
      app.port = this.#clientPort;
      try {
        await socket.send(socksDatagram(address, payload), app);
      } catch (error) {
        if (this.#outcome) return false;
        return drops.drop("send to the app failed", (error as Error).message);
      }
      meters.down.take(payload.length);
      datagrams.down++;
    });
    if (how.kind === "malformed") {
      log.debug("{client}: the remote sent {error}", { client: info.client, error: how.error });
    }
    this.#end(how.kind === "closed" ? "remote-closed" : "server-reset");
  }

  /** Datagrams from the app, into the tunnel as Trojan frames (the first with the header). */
  async #outward(): Promise<void> {
    const drops = this.#drops;
    const decoder = new AddressDecoder();
    await receiveEach(this.#socket, async (datagram, from) => {
      if (!this.#fromClient(from)) return drops.drop("not from the client", formatSource(from));
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
      const rules = this.#options.rules;
      if (rules) {
        const found = rules.decide(destination, "udp");
        const decision = "action" in found ? found : await found;
        const info = this.#options.info;
        if (!info.route) {
          info.route = decision.action === "PROXY"
            ? "proxy"
            : decision.action === "DIRECT"
            ? "direct"
            : "rejected";
          info.rule = decision.rule;
          if (info.destination === "-") info.destination = formatHostPort(destination);
        }
        if (decision.action === "REJECT") return drops.drop("rejected by a rule", decision.rule);
        if (decision.action === "DIRECT") return this.#sendDirect(destination, payload);
      }
      if (this.#writer) {
        if (!this.#writer.push(address, payload)) drops.drop("tunnel busy");
        return;
      }
      try {
        await this.#sendHeader(destination, encodeTrojanFrame(destination, payload));
      } catch (error) {
        if (error instanceof NoTunnel) return drops.drop("no tunnel", error.message);
        this.#end("server-reset");
        return false;
      }
      this.#options.meters.up.take(payload.length);
      this.#datagrams.up++;
    });
    this.#end("error");
  }

  /**
   * The header with the first frame, on a fresh tunnel if the remote closed the first (with
   * rules: on the tunnel opened now; when it cannot be, the datagram is dropped and the next
   * one tries again).
   */
  async #sendHeader(destination: Destination, frame: Uint8Array): Promise<void> {
    const { info, meters, route } = this.#options;
    if (!this.#tunnel || this.#closedEarly) {
      this.#tunnel?.peer.close();
      try {
        this.#tunnelOpened(await route.open(NOWHERE, "udp"));
      } catch (error) {
        if (!this.#options.rules || !(error instanceof TunnelError)) throw error;
        throw new NoTunnel(error.message);
      }
    }
    const conn = this.#tunnel!;
    this.#headerSent = true;
    if (!info.route) info.destination = formatHostPort(destination);
    const tunnel = conn.peer;
    // Header and first frame in one write: sing-box's server reads the header in one read.
    await tunnel.write(conn.first(frame, destination));
    const datagrams = this.#datagrams;
    this.#writer = new FrameWriter(tunnel, {
      written(payload, frames) {
        meters.up.take(payload);
        datagrams.up += frames;
      },
      failed: () => this.#end("server-reset"),
    });
    this.#loops.push(this.#inward());
  }

  /** A `DIRECT` datagram out of the association's own socket (bound at the first one). */
  async #sendDirect(destination: Destination, payload: Uint8Array): Promise<void> {
    const drops = this.#drops;
    if (!this.#direct) {
      try {
        this.#direct = bindUdpAnywhere();
      } catch (error) {
        return drops.drop("no UDP socket", (error as Error).message);
      }
      this.#loops.push(this.#directInward(this.#direct));
    }
    const to: Deno.NetAddr = {
      transport: "udp",
      hostname: destination.host,
      port: destination.port,
    };
    try {
      await this.#direct.send(payload, to);
    } catch (error) {
      return drops.drop("direct send failed", (error as Error).message);
    }
    this.#options.directMeters?.up.take(payload.length);
    this.#datagrams.up++;
  }

  /** Replies to `DIRECT` datagrams, from any source, to the app as SOCKS5 datagrams. */
  async #directInward(direct: Deno.DatagramConn): Promise<void> {
    const sources = new SourceEncoder();
    const app: Deno.NetAddr = { transport: "udp", hostname: this.#client.host, port: 0 };
    await receiveEach(direct, async (datagram, from) => {
      if (datagram.length > MAX_UDP_PAYLOAD) {
        return this.#drops.drop("reply too large", `${datagram.length} bytes`);
      }
      app.port = this.#clientPort;
      try {
        await this.#socket.send(socksDatagram(sources.encode(from), datagram), app);
      } catch (error) {
        if (this.#outcome) return false;
        return this.#drops.drop("send to the app failed", (error as Error).message);
      }
      this.#options.directMeters?.down.take(datagram.length);
      this.#datagrams.down++;
    });
  }

  /** The control connection: its end (or reset) ends the association. */
  async #watchControl(): Promise<void> {
    try {
      while (await this.#control.read() !== null) {
        // Nothing more is expected on the control connection; whatever comes is ignored.
      }
      this.#end("done");
    } catch {
      this.#end("client-reset");
    }
  }
}
