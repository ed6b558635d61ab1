/** The local proxy server: one port, SOCKS5 and HTTP told apart by the first byte. */
import { formatHostPort } from "../../protocol/address.ts";
import type { Destination } from "../../protocol/address.ts";
import { Command, encodeReply, Reply } from "../../protocol/socks5.ts";
import type { SocksRequest } from "../../protocol/socks5.ts";
import { ProtocolError } from "../../protocol/errors.ts";
import { Peer, withDeadline } from "../../common/net/peer.ts";
import { acceptEach } from "../../common/net/accept.ts";
import { watchIdle } from "../../common/net/idle.ts";
import type { IdleWatch } from "../../common/net/idle.ts";
import { HandshakeGate } from "../../common/net/handshake_gate.ts";
import { logger } from "../../common/ops/logging.ts";
import { accessLog } from "../../common/ops/access_log.ts";
import { SessionEvents } from "../../common/ops/session_events.ts";
import type { SessionOutcome } from "../../common/ops/session_events.ts";
import { ConnectionTable } from "./connections.ts";
import type { ConnectionInfo } from "./connections.ts";
import { replyForTunnelError, socksHandshake, SocksRefused } from "./socks_session.ts";
import { httpSession } from "./http_session.ts";
import { UdpAssociation } from "./udp_associate.ts";
import { tunnelSession } from "./tunnel_session.ts";
import type { AppReply, TunnelRoutine } from "./tunnel_session.ts";
import { TunnelDialer } from "../tunnel/tunnel.ts";
import { RuleRoute } from "../tunnel/rule_route.ts";
import type { Route, RouteConn, RouteKind } from "../tunnel/route.ts";
import type { RemoteEndpoint } from "../tunnel/tunnel.ts";
import { MuxRoute } from "../tunnel/mux_route.ts";
import type { LocalConfig } from "./config.ts";
import { ClientLogin } from "./client_login.ts";
import { TunnelDiagnosis } from "../tunnel/tunnel_diagnosis.ts";
import type { Diagnosis } from "../tunnel/tunnel_diagnosis.ts";
import { checkAccount } from "../tunnel/account_check.ts";
import type { AccountStatus } from "../tunnel/account_check.ts";

/** What one listener needs: the local's config, where to listen, and the remote to use. */
export interface LocalServerConfig extends LocalConfig {
  listen: Destination;
  endpoint: RemoteEndpoint;
  /** The account check that explains refused tunnels (default: `checkAccount(endpoint)`). */
  check?: () => Promise<AccountStatus>;
}

const log = logger("local");

/** A running local proxy listener. */
export class LocalServer {
  readonly #config: LocalServerConfig;
  readonly #dialer: TunnelDialer;
  /** Sessions' way through the remote: a tunnel each, or sub-connections of shared ones. */
  readonly #proxy: TunnelDialer | MuxRoute;
  /** The rules' route around the proxy route, with `--rules` or `--direct-country`. */
  readonly #rules: RuleRoute | null;
  readonly #listener: Deno.TcpListener;
  readonly #clients = new Set<Peer>();
  readonly #gate: HandshakeGate;
  readonly #login: ClientLogin | null;
  readonly connections: ConnectionTable;
  /** Finished client connections, for the access log and any other subscriber. */
  readonly events = new SessionEvents();
  /** Why the remote refuses tunnels, told to the apps, the log and the dashboard. */
  readonly diagnosis: TunnelDiagnosis;
  #accepting: Promise<void>;

  /**
   * Binds the listener and starts serving.
   *
   * @throws {Deno.errors.AddrInUse} when the port is taken
   */
  constructor(config: LocalServerConfig, connections = new ConnectionTable()) {
    this.#config = config;
    this.#gate = new HandshakeGate(config.maxHandshakes);
    this.#login = config.clientAuth ? new ClientLogin(config.clientAuth) : null;
    this.connections = connections;
    this.diagnosis = new TunnelDiagnosis(config.check ?? (() => checkAccount(config.endpoint)));
    this.events.subscribe((end) => {
      if (end.down > 0 && (!end.route || end.route === "proxy")) this.diagnosis.worked();
    });
    this.events.subscribe(accessLog("local"));
    // With --mux, one tunnel ready ahead: the next shared tunnel opens with no wait.
    this.#dialer = new TunnelDialer(
      config.mux > 0
        ? { ...config.endpoint, preconnect: Math.min(config.endpoint.preconnect ?? 0, 1) }
        : config.endpoint,
    );
    this.#proxy = config.mux > 0
      ? new MuxRoute(this.#dialer, { tunnels: config.mux })
      : this.#dialer;
    this.#rules = config.rules
      ? new RuleRoute(config.rules, this.#proxy, config.handshakeTimeoutMs)
      : null;
    this.#listener = Deno.listen({ hostname: config.listen.host, port: config.listen.port });
    this.#accepting = this.#acceptLoop();
  }

  get addr(): Deno.NetAddr {
    return this.#listener.addr;
  }

  /** The route through the remote (what `PROXY` uses), for the local's own fetches. */
  get proxyRoute(): Route {
    return this.#dialer;
  }

  #acceptLoop(): Promise<void> {
    return acceptEach(this.#listener, log, (conn: Deno.TcpConn) => {
      conn.setNoDelay(true);
      const peer = new Peer(conn);
      this.#clients.add(peer);
      this.#gate.enter(peer);
      this.#serve(peer).catch((error) => log.error("session failed: {error}", { error }))
        .finally(() => {
          this.#gate.leave(peer);
          peer.close();
          this.#clients.delete(peer);
        });
    });
  }

  async #serve(client: Peer): Promise<void> {
    const addr = client.conn.remoteAddr as Deno.NetAddr;
    const clientName = formatHostPort({ host: addr.hostname, port: addr.port });
    let first: Uint8Array | null;
    try {
      first = await withDeadline(client, this.#config.handshakeTimeoutMs, client.read());
    } catch {
      log.debug("{client}: no request within the handshake timeout", { client: clientName });
      return;
    }
    if (first === null || first.length === 0) return;
    client.unread(first);
    const byte = first[0]!;
    const isSocks = byte === 0x05;
    const isHttp = (byte >= 0x41 && byte <= 0x5a) || (byte >= 0x61 && byte <= 0x7a);
    if (!isSocks && !isHttp) {
      log.debug("{client}: first byte {byte} is neither SOCKS5 nor HTTP; closing", {
        client: clientName,
        byte,
      });
      return;
    }
    const info = this.connections.add(clientName, isSocks ? "SOCKS5" : "HTTP");
    try {
      let outcome = isSocks ? await this.#socks(client, info) : await this.#http(client, info);
      if (outcome.kind === "closed-at-once" && info.route === "direct") {
        // No remote was in the way: the destination itself reset the connection.
        outcome = { kind: "server-reset" };
      } else if (outcome.kind === "closed-at-once" && !info.failure) {
        info.failure = await this.diagnosis.explain(info.destination, info.startedAt);
      }
      const failure = info.failure;
      if (failure) outcome = { kind: outcome.kind, detail: failure.kind };
      this.events.publish({
        user: this.#config.endpoint.user,
        protocol: isSocks ? "SOCKS5" : "HTTP",
        command: info.protocol === "UDP" ? "udp" : "connect",
        client: info.client,
        destination: info.destination,
        up: info.up,
        down: info.down,
        ...(info.datagrams ? { datagrams: info.datagrams } : {}),
        durationMs: Date.now() - info.startedAt,
        outcome,
        ...(info.route ? { route: info.route, rule: info.rule } : {}),
        // One line per connection, with why; a name that does not resolve is a browser's
        // background guess more often than the user's typo.
        ...(failure ? { error: failure.words, quiet: failure.kind === "unresolved" } : {}),
      });
    } finally {
      this.connections.remove(info);
    }
  }

  async #socks(client: Peer, info: ConnectionInfo): Promise<SessionOutcome> {
    let request: SocksRequest;
    try {
      request = await withDeadline(
        client,
        this.#config.handshakeTimeoutMs,
        socksHandshake(client, { login: this.#loginFor(client) }),
      );
      this.#gate.leave(client);
    } catch (error) {
      if (error instanceof SocksRefused || error instanceof ProtocolError) {
        info.destination = "-";
        return { kind: "refused", detail: error.message };
      }
      return { kind: "handshake-failed", detail: (error as Error).message };
    }
    switch (request.command) {
      case Command.connect:
        return await this.#socksConnect(client, info, request.destination);
      case Command.udpAssociate:
        return await new UdpAssociation(client, request.destination, {
          route: this.#routeFor(info),
          listenHost: this.#config.listen.host,
          info,
          meters: this.connections.meters(info),
          ...(this.#rules
            ? {
              rules: this.#rules,
              directMeters: this.connections.meters(info, true),
            }
            : {}),
        }).run();
      default:
        info.destination = "-";
        await client.write(encodeReply(Reply.commandNotSupported)).catch(() => {});
        return { kind: "refused", detail: `command ${request.command} is not supported` };
    }
  }

  /** SOCKS5 CONNECT: the tunnel routine, answered with SOCKS5 replies. */
  async #socksConnect(
    client: Peer,
    info: ConnectionInfo,
    destination: Destination,
  ): Promise<SessionOutcome> {
    info.destination = formatHostPort(destination);
    const reply: AppReply = {
      opened: () => client.write(encodeReply(Reply.succeeded)),
      failed: (error) => {
        const fields = { client: info.client, destination: info.destination, error };
        // A rule's refusal is the user's own choice (ad blocking): no warning for each.
        if (error.kind === "rejected") log.debug("{client} -> {destination}: {error}", fields);
        else log.warn("{client} -> {destination}: {error}", fields);
        return client.write(encodeReply(replyForTunnelError(error))).catch(() => {});
      },
      refused: (diagnosis) => client.write(encodeReply(diagnosis.rep)).catch(() => {}),
    };
    let idle: IdleWatch | undefined;
    try {
      return await tunnelSession(
        client,
        destination,
        reply,
        this.#routine(info),
        () => idle = watchIdle(this.#config.idleTimeoutMs, this.connections.meters(info)),
      );
    } finally {
      idle?.stop();
    }
  }

  /** The tunnel routine's hooks into this server, for the session of `info`. */
  #routine(info: ConnectionInfo): TunnelRoutine {
    return {
      route: this.#routeFor(info),
      accountRefused: (destination) => this.#accountRefused(destination),
      refusedBy: (diagnosis) => info.failure = diagnosis,
    };
  }

  /**
   * The route for the session of `info`: the proxy route (the tunnel dialer, or `--mux`'s) without
   * rules; with rules, the rules' route, each decision noted in `info` (the dashboard, the access
   * log, the totals); with `--mux`, the tunnel each connection shares noted too.
   */
  #routeFor(info: ConnectionInfo): Route {
    const rules = this.#rules;
    const proxy = this.#proxy;
    if (!rules && !(proxy instanceof MuxRoute)) return proxy;
    const decided = (via: RouteKind, rule: string) => {
      info.route = via;
      info.rule = rule;
    };
    const noted = (conn: RouteConn) => {
      if (conn.tunnel) info.tunnel = conn.tunnel;
      return conn;
    };
    return {
      open: async (destination, network) =>
        noted(
          rules
            ? await rules.open(destination, network, decided)
            : await proxy.open(destination, network),
        ),
    };
  }

  /**
   * The account's refusal, while the remote is known to refuse every tunnel of it (re-asked at
   * most once a second); null at once otherwise, so a working account pays nothing for it.
   */
  #accountRefused(destination: Destination): Promise<Diagnosis | null> | null {
    if (!this.diagnosis.known) return null;
    const rules = this.#rules;
    if (!rules) return this.diagnosis.stillRefused();
    // A connection the rules send direct or refuse does not need the account.
    const found = rules.decide(destination, "tcp");
    const through = (action: string) => action === "PROXY" ? this.diagnosis.stillRefused() : null;
    return "action" in found ? through(found.action) : found.then((d) => through(d.action));
  }

  #http(client: Peer, info: ConnectionInfo): Promise<SessionOutcome> {
    // The idle timeout also covers a keep-alive client waiting between requests.
    const idle = watchIdle(this.#config.idleTimeoutMs, this.connections.meters(info));
    idle.signal.addEventListener("abort", () => client.close(), { once: true });
    return httpSession(client, {
      ...this.#routine(info),
      handshakeTimeoutMs: this.#config.handshakeTimeoutMs,
      login: this.#loginFor(client),
      up: idle.up,
      down: idle.down,
      onDestination: (destination) => {
        this.#gate.leave(client);
        info.destination = destination;
      },
      explain: async () =>
        info.failure = await this.diagnosis.explain(info.destination, info.startedAt),
    }).finally(() => idle.stop());
  }

  #loginFor(client: Peer) {
    return this.#login?.from((client.conn.remoteAddr as Deno.NetAddr).hostname);
  }

  /** Stops listening and closes every client connection. */
  async stop(): Promise<void> {
    this.#listener.close();
    this.#proxy.close();
    await this.#accepting;
    for (const client of this.#clients) client.close();
    while (this.#clients.size > 0) await new Promise((r) => setTimeout(r, 10));
  }
}
