/** The remote server: TLS listener, Trojan header, account checks, dial, relay, accounting. */
import { formatHostPort } from "../protocol/address.ts";
import type { Destination } from "../protocol/address.ts";
import { ProtocolError } from "../protocol/errors.ts";
import { decodeTrojanHeader, TrojanCommand } from "../protocol/trojan.ts";
import type { TrojanHeader } from "../protocol/trojan.ts";
import { Peer, withDeadline } from "../common/peer.ts";
import { acceptEach } from "../common/accept.ts";
import { relay } from "../common/relay.ts";
import { listenTls } from "../common/tls_listener.ts";
import type { TlsServerListener } from "../common/tls_listener.ts";
import { watchIdle } from "../common/idle.ts";
import { HandshakeGate } from "../common/handshake_gate.ts";
import { AuthGuard } from "./auth_guard.ts";
import type { AuthGuardOptions } from "./auth_guard.ts";
import { logger } from "../common/logging.ts";
import { accessLog } from "../common/access_log.ts";
import { SessionEvents } from "../common/session_events.ts";
import { Accounts } from "./accounts.ts";
import type { Account } from "./accounts.ts";
import { dial, DialError } from "./destination.ts";
import type { DestinationPolicy } from "./destination.ts";
import type { UsersDb } from "./users_db.ts";
import { statusDocument } from "./status.ts";
import { isStatusDestination } from "../protocol/account_status.ts";

/** Everything `serve` needs. */
export interface RemoteConfig {
  listen: Destination;
  cert: string;
  key: string;
  db: UsersDb;
  policy: DestinationPolicy;
  /** Where connections without a valid header are relayed, if anywhere. */
  fallback?: Destination;
  /** Most connections open at once, 0 for no limit. */
  maxConns: number;
  handshakeTimeoutMs: number;
  /** Tunnels with no traffic either way for this long are closed; 0 for never. */
  idleTimeoutMs?: number;
  /** Most connections in TLS/header handshake at once (the oldest make room); 0 for no cap. */
  maxHandshakes?: number;
  /** Failed logins allowed per source address before it cools off. */
  authGuard?: AuthGuardOptions;
}

const log = logger("remote");
/** How often the users table is checked for changes and limits enforced. */
const HOUSEKEEPING_MS = 250;
/** Usage is written every this many checks (every 0.5 s). */
const FLUSH_EVERY = 2;

/** A certificate or key that TLS cannot use. */
export class CertificateError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "CertificateError";
  }
}

class UnknownToken extends ProtocolError {
  constructor() {
    super("the token belongs to no user");
  }
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
  readonly #guard: AuthGuard;
  readonly #tick: ReturnType<typeof setInterval>;
  #ticks = 0;
  readonly #accepting: Promise<void>;

  /**
   * Starts listening and serving at once.
   *
   * @throws {Deno.errors.AddrInUse} when the address is taken
   */
  constructor(config: RemoteConfig) {
    this.#config = config;
    this.accounts = new Accounts(config.db);
    this.events.subscribe(accessLog("remote"));
    this.#gate = new HandshakeGate(config.maxHandshakes ?? 1024);
    this.#guard = new AuthGuard(config.authGuard ?? { limit: 20, coolOffMs: 600_000 });
    this.#listener = this.#listen(config.listen.port, config.cert, config.key);
    this.#tick = setInterval(() => this.#housekeeping(), HOUSEKEEPING_MS);
    this.#accepting = this.#acceptLoop();
  }

  #listen(port: number, cert: string, key: string): TlsServerListener {
    // Not Deno.listenTls: its connections cannot disable Nagle (see tls_listener.ts).
    return listenTls({
      hostname: this.#config.listen.host,
      port,
      cert,
      key,
      handshakeTimeoutMs: this.#config.handshakeTimeoutMs,
      gate: this.#gate,
    });
  }

  /**
   * Serves new connections with another certificate and key (a renewal); open connections
   * keep theirs, and the listening socket stays open.
   *
   * @throws {CertificateError} when the pair is not usable; the old one stays in use
   */
  reloadCertificate(cert: string, key: string): void {
    try {
      // Deno's TLS checks the PEM and that the key matches the certificate; node's does not.
      Deno.listenTls({ hostname: "127.0.0.1", port: 0, cert, key }).close();
    } catch (error) {
      throw new CertificateError((error as Error).message);
    }
    this.#listener.setCertificate(cert, key);
    this.#config.cert = cert;
    this.#config.key = key;
  }

  /** Settles once the listener accepts connections; rejects if binding failed. */
  get ready(): Promise<void> {
    return this.#listener.listening;
  }

  /** The bound address (the real port when 0 was asked for). */
  get addr(): Deno.NetAddr {
    return this.#listener.addr;
  }

  #acceptLoop(): Promise<void> {
    return acceptEach(this.#listener, log, (conn: Deno.TlsConn) => {
      const peer = new Peer(conn);
      if (this.#config.maxConns > 0 && this.#connections.size >= this.#config.maxConns) {
        log.warn("refused {client}: the server has {max} connections open", {
          client: clientOf(conn),
          max: this.#config.maxConns,
        });
        peer.close();
        return;
      }
      this.#connections.add(peer);
      this.#gate.enter(peer);
      this.#serve(peer).catch((error) => log.error("session failed: {error}", { error }))
        .finally(() => {
          this.#gate.leave(peer);
          this.#connections.delete(peer);
        });
    });
  }

  async #serve(peer: Peer): Promise<void> {
    const client = clientOf(peer.conn);
    const ip = (peer.conn.remoteAddr as Deno.NetAddr).hostname;
    const started = performance.now();
    let opened: { header: TrojanHeader; account: Account };
    try {
      opened = await withDeadline(
        peer,
        this.#config.handshakeTimeoutMs,
        peer.readFrame((bytes) => {
          const decoded = decodeTrojanHeader(bytes);
          if (!decoded) return null;
          // A source cooling off is refused exactly like a wrong credential.
          if (this.#guard.isBlocked(ip)) throw new UnknownToken();
          const account = this.accounts.find(decoded.value.token);
          if (!account) throw new UnknownToken();
          return { value: { header: decoded.value, account }, consumed: decoded.consumed };
        }),
      );
    } catch (error) {
      this.#gate.leave(peer);
      if (error instanceof UnknownToken) this.#guard.fail(ip);
      await this.#refuseHeader(peer, client, error);
      return;
    }
    this.#gate.leave(peer);
    const { header, account } = opened;
    const user = account.user.name;
    const destination = formatHostPort(header.destination);
    const refusal = account.refusal();
    if (refusal) {
      log.warn("refused {user} from {client}: {reason}", { user, client, reason: refusal });
      peer.close();
      return;
    }
    if (isStatusDestination(header.destination)) {
      // A status check is rare and should show the admin's latest change, not last second's.
      this.accounts.reload();
      await peer.write(statusDocument(this.accounts.find(header.token) ?? account)).catch(() => {});
      peer.close();
      return;
    }
    if (header.command !== TrojanCommand.connect) {
      log.info("refused {user} from {client}: command {command} is not supported", {
        user,
        client,
        command: header.command,
      });
      peer.close();
      return;
    }
    const session = new AbortController();
    account.sessions.add(session);
    try {
      await this.#connect(peer, account, header.destination, session, {
        user,
        client,
        destination,
        started,
      });
    } finally {
      account.sessions.delete(session);
    }
  }

  async #connect(
    peer: Peer,
    account: Account,
    destination: Destination,
    session: AbortController,
    context: { user: string; client: string; destination: string; started: number },
  ): Promise<void> {
    let target: Deno.TcpConn;
    try {
      target = await dial(destination, this.#config.policy, session.signal);
    } catch (error) {
      const reason = error instanceof DialError ? error.kind : "error";
      this.#ended(context, { up: 0, down: 0, reason }, error);
      peer.close();
      return;
    }
    const meters = { up: account.up, down: account.down };
    const idle = watchIdle(this.#config.idleTimeoutMs ?? 0, meters, session);
    const result = await relay(peer, new Peer(target), idle);
    idle.stop();
    this.#ended(context, result);
  }

  #ended(
    context: { user: string; client: string; destination: string; started: number },
    result: { up: number; down: number; reason: string },
    error?: unknown,
  ): void {
    this.events.publish({
      user: context.user,
      protocol: "trojan",
      command: "connect",
      client: context.client,
      destination: context.destination,
      up: result.up,
      down: result.down,
      durationMs: elapsed(context.started),
      reason: result.reason,
      ...(error === undefined ? {} : { error }),
    });
  }

  async #refuseHeader(peer: Peer, client: string, error: unknown): Promise<void> {
    const received = peer.takeBuffered();
    if (received.length === 0 && error instanceof Deno.errors.UnexpectedEof) {
      // A tunnel a local opened ahead and never used: nothing was said, so nothing to refuse.
      log.debug("{client}: closed before sending anything", { client });
      peer.close();
      return;
    }
    peer.unread(received);
    const why = error instanceof UnknownToken
      ? "unknown credential"
      : error instanceof ProtocolError
      ? `not a tunnel header (${error.message})`
      : error instanceof Deno.errors.TimedOut
      ? "handshake timed out"
      : `handshake failed (${(error as Error).message})`;
    const fallback = this.#config.fallback;
    if (
      fallback && (error instanceof ProtocolError || error instanceof Deno.errors.UnexpectedEof)
    ) {
      log.info("{client}: {why}; relaying to the fallback {fallback}", {
        client,
        why,
        fallback: formatHostPort(fallback),
      });
      try {
        const site = await Deno.connect({ hostname: fallback.host, port: fallback.port });
        site.setNoDelay(true);
        await relay(peer, new Peer(site));
      } catch (dialError) {
        log.warn("fallback {fallback} failed: {error}", {
          fallback: formatHostPort(fallback),
          error: dialError,
        });
        peer.close();
      }
      return;
    }
    log.info("{client}: {why}; closing", { client, why });
    // A short random pause, so a prober cannot time how many bytes the parser wanted.
    await new Promise((r) => setTimeout(r, 100 + Math.random() * 400));
    peer.close();
  }

  /**
   * Picks up changes to the users table and closes whoever must go (4 times a second, so a
   * change applies within 1 s with room to spare), and writes usage every other time.
   */
  #housekeeping(): void {
    try {
      this.accounts.reload();
      if (++this.#ticks % FLUSH_EVERY === 0) this.accounts.flush();
    } catch (error) {
      log.warn("the users database is busy, trying again shortly: {error}", { error });
    }
  }

  /** Connections open now, tunnels and handshakes. */
  get connectionCount(): number {
    return this.#connections.size;
  }

  /**
   * Stops accepting, lets open connections finish for `graceMs`, closes the rest, and
   * writes the final usage counts.
   */
  async stop(graceMs = 0): Promise<void> {
    this.#listener.close();
    await this.#accepting;
    const deadline = Date.now() + graceMs;
    while (this.#connections.size > 0 && Date.now() < deadline) {
      await new Promise((r) => setTimeout(r, 50));
    }
    // Aborting the sessions also frees relays waiting on a user's rate limit.
    this.accounts.closeAll("the server is stopping");
    for (const peer of this.#connections) peer.close();
    while (this.#connections.size > 0) await new Promise((r) => setTimeout(r, 10));
    clearInterval(this.#tick);
    this.accounts.flush();
  }
}

function clientOf(conn: Deno.Conn): string {
  const addr = conn.remoteAddr as Deno.NetAddr;
  return formatHostPort({ host: addr.hostname, port: addr.port });
}

function elapsed(started: number): number {
  return Math.round(performance.now() - started);
}
