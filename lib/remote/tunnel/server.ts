/**
 * The remote server: accept → authenticate → dispatch on the command → relay → account.
 * Authentication, the fallback, the CONNECT arm and the users' housekeeping live in their own
 * modules; this one composes them.
 */
import { formatHostPort } from "../../protocol/address.ts";
import type { Destination } from "../../protocol/address.ts";
import type { LinkVault } from "../share/link_vault.ts";
import { guessPublicAddress } from "../share/public_address.ts";
import { TrojanCommand } from "../../protocol/trojan.ts";
import type { TrojanHeader } from "../../protocol/trojan.ts";
import { isStatusDestination } from "../../protocol/account_status.ts";
import { isWelcomeDestination } from "../../protocol/welcome_page.ts";
import { endAnswer, Peer } from "../../common/net/peer.ts";
import { acceptEach } from "../../common/net/accept.ts";
import { listenTls } from "../../common/net/tls_listener.ts";
import type { TlsServerListener } from "../../common/net/tls_listener.ts";
import type { Conn } from "../../common/net/conn.ts";
import { HandshakeGate, PRE_LOGIN_PER_SOURCE } from "../../common/net/handshake_gate.ts";
import { logger } from "../../common/ops/logging.ts";
import { accessLog } from "../../common/ops/access_log.ts";
import { SessionEvents } from "../../common/ops/session_events.ts";
import { AuthGuard } from "../users/auth_guard.ts";
import { Accounts, TunnelSession } from "../users/accounts.ts";
import type { Account } from "../users/accounts.ts";
import { checkCertificate } from "../store/certificate.ts";
import type { RemoteConfig } from "./config.ts";
import { connect } from "../egress/connect.ts";
import type { TunnelEnd } from "../egress/connect.ts";
import { refuseHeader, SITE_ALPN } from "./fallback.ts";
import type { FallbackOptions } from "./fallback.ts";
import { handshakeRefusal } from "./refusals.ts";
import { statusDocument } from "./status.ts";
import { relayUdp } from "../egress/udp_association.ts";
import { UdpResolver } from "../egress/udp_resolver.ts";
import { accountPolicy } from "../egress/account_policy.ts";
import { SubscriptionService } from "../share/subscription_server.ts";
import type { ClientRulesSetting } from "../share/client_rules_setting.ts";
import { authenticate } from "./tunnel_auth.ts";
import { sourceKey } from "../../common/security/source_key.ts";
import type { Tunnel } from "./tunnel_auth.ts";
import { UsersPoll } from "../users/users_poll.ts";
import { serveWelcome } from "./welcome.ts";
import { isMuxCool, serveMux } from "./mux_server.ts";

const log = logger("remote");

/** Who a tunnel is and when it started, for its `SessionEnd`. */
interface TunnelContext {
  user: string;
  client: string;
  destination: string;
  started: number;
  /** Hears of the session's controller (a Mux.Cool sub-connection closes itself through it). */
  onSession?: (session: AbortController) => void;
}

/** A running remote server. */
export class RemoteServer {
  readonly #config: RemoteConfig;
  readonly #listener: TlsServerListener;
  readonly accounts: Accounts;
  /** Finished tunnels, for the access log and any other subscriber. */
  readonly events = new SessionEvents();
  readonly #connections = new Set<Peer>();
  readonly #gate: HandshakeGate;
  /** Failed logins per source; the admin's metrics read how many sources cool off. */
  readonly guard: AuthGuard;
  readonly #fallback?: FallbackOptions;
  /** The first read of the users; no header is checked before it is done. */
  readonly #loaded: Promise<void>;
  readonly #poll: UsersPoll;
  readonly #subscriptions: SubscriptionService;
  readonly #accepting: Promise<void>;
  /** Connections past login (tunnels, the welcome page, status checks): they get the grace. */
  readonly #working = new Set<Peer>();
  #stopping = false;

  /**
   * Starts listening and serving at once.
   *
   * @throws {Deno.errors.AddrInUse} when the address is taken (also through {@linkcode ready})
   * @example
   * const server = new RemoteServer({ ...REMOTE_DEFAULTS, cert, key, store });
   * await server.ready;
   */
  constructor(config: RemoteConfig) {
    this.#config = { ...config };
    this.accounts = new Accounts(config.store, config.outbox);
    this.#loaded = this.accounts.reload();
    this.events.subscribe(accessLog("remote"));
    this.#gate = new HandshakeGate(config.maxHandshakes, PRE_LOGIN_PER_SOURCE);
    this.guard = new AuthGuard(config.authGuard);
    if (config.fallback) {
      this.#fallback = {
        site: config.fallback,
        idleTimeoutMs: config.idleTimeoutMs,
        isKnownToken: (token) => this.accounts.isKnownToken(token),
      };
    }
    // Not Deno.listenTls: its connections cannot disable Nagle (see tls_listener.ts).
    this.#listener = listenTls({
      hostname: config.listen.host,
      port: config.listen.port,
      cert: config.cert,
      key: config.key,
      handshakeTimeoutMs: config.handshakeTimeoutMs,
      gate: this.#gate,
      alpnProtocols: SITE_ALPN,
    });
    this.#poll = new UsersPoll(this.accounts);
    this.#subscriptions = new SubscriptionService({
      store: config.store,
      guard: this.guard,
      certificate: () => this.certificate,
      port: () => this.addr.port,
      publicAddress: () => this.publicAddress,
      handshakeTimeoutMs: config.handshakeTimeoutMs,
      options: config.subscriptions,
      clientRules: () => this.#config.clientRules?.rules,
    });
    this.#accepting = this.#acceptLoop();
  }

  /**
   * Serves new connections with another certificate and key (a renewal); open connections
   * keep theirs, and the listening socket stays open.
   *
   * @throws {CertificateError} when the pair is not usable; the old one stays in use
   */
  reloadCertificate(cert: string, key: string): void {
    checkCertificate(cert, key);
    this.#listener.setCertificate(cert, key);
    this.#config.cert = cert;
    this.#config.key = key;
  }

  #publicAddress?: Destination;

  /**
   * Where clients reach this server (`init --public`, or what serve guessed): links and
   * subscriptions carry it. Unset: the listen address when it is a specific one, else
   * undefined (the certificate's public name and the bound port).
   */
  get publicAddress(): Destination | undefined {
    const listen = { host: this.#config.listen.host, port: this.addr.port };
    return this.#publicAddress ?? guessPublicAddress(listen, []);
  }

  set publicAddress(address: Destination | undefined) {
    this.#publicAddress = address;
  }

  /** Where the admin panel keeps what reprinting a user's link takes, if anywhere. */
  get linkVault(): LinkVault | undefined {
    return this.#config.linkVault;
  }

  /** The client rules subscriptions carry and where they come from, if set up. */
  get clientRules(): ClientRulesSetting | undefined {
    return this.#config.clientRules;
  }

  /** The certificate chain (PEM) new connections are served with: what links pin. */
  get certificate(): string {
    return this.#config.cert;
  }

  /** Settles once the listener accepts connections and the users are read; rejects if not. */
  get ready(): Promise<void> {
    return Promise.all([this.#listener.listening, this.#loaded]).then(() => {});
  }

  /** The bound address (the real port when 0 was asked for). */
  get addr(): Deno.NetAddr {
    return this.#listener.addr;
  }

  #acceptLoop(): Promise<void> {
    return acceptEach(this.#listener, log, (conn: Conn) => {
      const peer = new Peer(conn);
      this.#connections.add(peer);
      // TLS is done: a local's ready tunnel waits here, silent, until a client claims it.
      this.#gate.enterSilent(peer, conn.remoteAddr.hostname);
      peer.readAhead().then(() => this.#gate.spoke(peer), () => {});
      this.#serve(peer).catch((error) => log.error("session failed: {error}", { error }))
        .finally(() => {
          this.#gate.leave(peer);
          this.#connections.delete(peer);
          this.#working.delete(peer);
        });
    });
  }

  async #serve(peer: Peer): Promise<void> {
    const client = clientOf(peer.conn);
    const ip = peer.conn.remoteAddr.hostname;
    const started = performance.now();
    let tunnel: Tunnel;
    try {
      await this.#loaded;
      tunnel = await authenticate(peer, ip, {
        accounts: this.accounts,
        guard: this.guard,
        handshakeTimeoutMs: this.#config.handshakeTimeoutMs,
      });
    } catch (error) {
      // Not a tunnel: a subscription request is answered here, anything else refused below.
      if (await this.#subscriptions.answer(peer, ip, error)) return;
      // Still counted by the gate while refused or relayed: one source cannot pile these up.
      this.events.refused(handshakeRefusal(client, error, peer, Boolean(this.#config.fallback)));
      await refuseHeader(peer, client, error, this.#fallback);
      return;
    }
    this.#gate.leave(peer);
    this.#gate.loggedIn(ip);
    if (this.#stopping) return peer.close(); // logged in while the server stops: too late
    this.#working.add(peer);
    const { header, account } = tunnel;
    const user = account.user.name;
    const source = sourceKey(ip);
    // The status is answered even when the account may not open tunnels: it says why.
    if (isStatusDestination(header.destination)) return await this.#status(peer, tunnel, source);
    const refusal = account.refusal(Date.now(), this.#config.userMaxConns, source);
    if (refusal) {
      log.warn("refused {user} from {client}: {reason}", { user, client, reason: refusal });
      this.events.refused({ client, user, result: "refused_account" });
      const reason = account.refusalReason(Date.now(), this.#config.userMaxConns, source)!;
      // The device limit refuses an address, not the account: the status asked from there says so.
      if (reason !== "max-ips") account.refused(reason, formatHostPort(header.destination));
      peer.close();
      return;
    }
    this.accounts.loggedIn(account);
    // Counted for the device limit while the tunnel is open, whatever it carries.
    const release = account.claim(source);
    try {
      await this.#dispatch(peer, tunnel, client, started);
    } finally {
      release();
    }
  }

  /** Runs a logged-in tunnel that may open: the welcome page, Mux.Cool, CONNECT or UDP. */
  async #dispatch(peer: Peer, tunnel: Tunnel, client: string, started: number): Promise<void> {
    const { header, account } = tunnel;
    const user = account.user.name;
    if (isWelcomeDestination(header.destination)) {
      return await serveWelcome(peer, () => this.#fresh(tunnel), this.#config.handshakeTimeoutMs);
    }
    const context = { user, client, destination: formatHostPort(header.destination), started };
    if (isMuxCool(header)) return await this.#mux(peer, tunnel, context);
    switch (header.command) {
      case TrojanCommand.connect:
        return await this.#connect(peer, account, header, context);
      case TrojanCommand.udpAssociate:
        return await this.#associate(peer, account, context);
      default:
        log.info("refused {user} from {client}: command {command} is not supported", {
          user,
          client,
          command: header.command,
        });
        peer.close();
    }
  }

  /** Answers the account-status destination with the user's document and ends cleanly. */
  async #status(peer: Peer, tunnel: Tunnel, source: string): Promise<void> {
    const account = await this.#fresh(tunnel);
    if (account.refusal(Date.now(), this.#config.userMaxConns, source) === null) {
      this.accounts.loggedIn(account);
    }
    await peer.write(statusDocument(account, source)).catch(() => {});
    await endAnswer(peer);
  }

  /** The tunnel's account as the database has it now. */
  async #fresh({ header, account }: Tunnel): Promise<Account> {
    // A status check is rare and should show the admin's latest change, not last second's.
    await this.accounts.reload();
    return this.accounts.find(header.token) ?? account;
  }

  /** CONNECT: dial the destination and relay. */
  #connect(peer: Peer, account: Account, header: TrojanHeader, context: TunnelContext) {
    return this.#session(
      peer,
      account,
      context,
      "connect",
      (session) =>
        connect(peer, account, header.destination, session, {
          policy: accountPolicy(this.#config.policy, this.#config.block, account),
          idleTimeoutMs: this.#config.idleTimeoutMs,
          blockBittorrent: this.#config.blockBittorrent,
        }),
    );
  }

  /** UDP ASSOCIATE: datagrams routed by each frame's address, not the header's. */
  #associate(peer: Peer, account: Account, context: TunnelContext) {
    return this.#session(peer, account, context, "udp", (controller) =>
      relayUdp(peer, {
        resolver: new UdpResolver(accountPolicy(this.#config.policy, this.#config.block, account)),
        blockBittorrent: this.#config.blockBittorrent,
        blocked: (reason) => account.blocked(reason),
        up: account.up,
        down: account.down,
        controller,
        idleTimeoutMs: this.#config.udpTimeoutMs,
        client: context.client,
      }));
  }

  /** Mux.Cool: every sub-connection is a CONNECT or a UDP association of its own. */
  #mux(peer: Peer, { header, account }: Tunnel, context: TunnelContext): Promise<void> {
    return serveMux(peer, {
      account,
      client: context.client,
      events: this.events,
      idleTimeoutMs: this.#config.idleTimeoutMs,
      defaultMaxConns: this.#config.userMaxConns,
      revoked: () => this.accounts.find(header.token) !== account || account.eviction() !== null,
      open: (stream) => {
        const destination = formatHostPort(stream.destination);
        const sub = { ...context, destination, started: performance.now() };
        sub.onSession = (session) => stream.session = session;
        const streamPeer = new Peer(stream);
        return stream.target.network === "tcp"
          ? this.#connect(streamPeer, account, { ...header, destination: stream.destination }, sub)
          : this.#associate(streamPeer, account, sub);
      },
    });
  }

  /**
   * Runs one command as a session of `account` (counted for its `max-conns`, closed by a
   * kick), then publishes its `SessionEnd`; a UDP association names its first destination.
   */
  async #session(
    peer: Peer,
    account: Account,
    context: TunnelContext,
    command: "connect" | "udp",
    run: (session: AbortController) => Promise<TunnelEnd & { destination?: string }>,
  ): Promise<void> {
    // Only logged-in tunnels take slots: connections before login are capped by the gate.
    if (this.#config.maxConns > 0 && this.accounts.openSessions >= this.#config.maxConns) {
      log.warn("refused {client}: the server has {max} connections open", {
        client: context.client,
        max: this.#config.maxConns,
      });
      this.events.refused({ client: context.client, user: context.user, result: "server_full" });
      account.refused("server-full", context.destination);
      peer.close();
      return;
    }
    const session = new TunnelSession(command, context.client, context.destination);
    context.onSession?.(session);
    account.sessions.add(session);
    let end: TunnelEnd = { up: 0, down: 0, outcome: { kind: "error" } };
    try {
      const result = await run(session);
      end = result;
      if (result.destination) context = { ...context, destination: result.destination };
    } catch (error) {
      end = { ...end, error };
      peer.close();
    } finally {
      account.sessions.delete(session);
      this.#ended(context, command, end);
    }
  }

  /** Publishes the one `SessionEnd` of a finished tunnel. */
  #ended(context: TunnelContext, command: "connect" | "udp", end: TunnelEnd): void {
    this.events.publish({
      user: context.user,
      protocol: "trojan",
      command,
      client: context.client,
      destination: context.destination,
      up: end.up,
      down: end.down,
      ...(end.datagrams ? { datagrams: end.datagrams } : {}),
      durationMs: Math.round(performance.now() - context.started),
      outcome: end.outcome,
      ...(end.error === undefined ? {} : { error: end.error }),
    });
  }

  /** Connections closed to make room for new handshakes since start (a slowloris flood). */
  get handshakeEvictions(): number {
    return this.#gate.evicted;
  }

  /** Connections open now, tunnels and handshakes. */
  get connectionCount(): number {
    return this.#connections.size;
  }

  /**
   * Stops accepting and closes at once every connection not logged in (a local's ready
   * tunnels, handshakes, probes); lets logged-in ones finish for `graceMs`, or until `hurry`
   * aborts (a second Ctrl-C); closes the rest, and writes the final usage counts.
   */
  async stop(graceMs = 0, hurry?: AbortSignal): Promise<void> {
    this.#stopping = true;
    this.#listener.close();
    await this.#accepting;
    for (const peer of this.#connections) if (!this.#working.has(peer)) peer.close();
    const deadline = Date.now() + graceMs;
    while (this.#working.size > 0 && Date.now() < deadline && !hurry?.aborted) {
      await new Promise((r) => setTimeout(r, 50));
    }
    // Aborting the sessions also frees relays waiting on a user's rate limit.
    this.accounts.closeAll("the server is stopping");
    for (const peer of this.#connections) peer.close();
    // Closed peers end their sessions at once; should one not (a socket node:tls never
    // reports closed), stopping still finishes, with the usage written.
    const drained = Date.now() + 2_000;
    while (this.#connections.size > 0 && Date.now() < drained) {
      await new Promise((r) => setTimeout(r, 10));
    }
    if (this.#connections.size > 0) {
      log.warn("stopping with {count} connection(s) that did not close", {
        count: this.#connections.size,
      });
    }
    await this.#poll.stop();
    await this.accounts.flush();
  }
}

function clientOf(conn: Conn): string {
  const addr = conn.remoteAddr;
  return formatHostPort({ host: addr.hostname, port: addr.port });
}
