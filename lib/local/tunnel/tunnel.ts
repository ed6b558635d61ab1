/**
 * Opening tunnels to the remote: one TLS connection per client connection, never reused. Some
 * are opened ahead (TCP + TLS done, header not sent; `tunnel_pool.ts`), so a new client
 * connection skips the handshake round trips: what a browser opening a page waits for.
 */
import { encodeTrojanHeader, TrojanCommand, trojanToken } from "../../protocol/trojan.ts";
import { formatHostPort } from "../../protocol/address.ts";
import type { Destination } from "../../protocol/address.ts";
import { Peer } from "../../common/net/peer.ts";
import { POOL_DEFAULTS, ReadyPool } from "./tunnel_pool.ts";
import type { PoolOptions } from "./tunnel_pool.ts";
import { dialNodeTls } from "./node_tls_dial.ts";
import type { DialFailure } from "./node_tls_dial.ts";
import { PinMismatch, pinnedCertificate, PinnedNameMismatch } from "./pinned_certificate.ts";
import type { Route, RouteConn } from "./route.ts";

/** Where the remote is and how to log in. */
export interface RemoteEndpoint {
  remote: Destination;
  user: string;
  password: string;
  /**
   * The only trusted certificates (PEM), e.g. the remote's self-signed one; none: the
   * system's roots, or with a `pin`, the pinned certificate fetched at the first tunnel.
   */
  caCerts?: string[];
  /** Hex SHA-256 of the remote's leaf certificate, which every tunnel must show exactly. */
  pin?: string;
  /** Name to check the certificate against, when not the remote's host. */
  serverName?: string;
  /** Time allowed for TCP connect + TLS handshake. */
  timeoutMs: number;
  /** Most tunnels kept open ahead of use (0 for none); see {@linkcode TunnelDialer}. */
  preconnect?: number;
  /** The pool's timing, when not {@linkcode POOL_DEFAULTS} (tests shorten it). */
  pool?: Partial<Omit<PoolOptions, "max">>;
}

/**
 * Why a connection for a session could not be opened; `kind` maps to a SOCKS5 REP code
 * (`rejected`: a `REJECT` rule, whose text is `rule`, refused it: REP 0x02, HTTP 403).
 */
export class TunnelError extends Error {
  constructor(
    message: string,
    readonly kind: "refused" | "unreachable" | "tls" | "timeout" | "rejected",
    readonly rule?: string,
  ) {
    super(message);
    this.name = "TunnelError";
  }
}

/**
 * Opens tunnels to one remote with one account. While the local is in use, keeps up to
 * `endpoint.preconnect` tunnels open ahead, as many as recent bursts needed (see
 * {@linkcode ReadyPool}): each goes to exactly one client connection. Call {@linkcode close}
 * when done.
 *
 * @example
 * const dialer = new TunnelDialer({ remote, user, password, timeoutMs: 10_000, preconnect: 32 });
 * const { peer, first } = await dialer.open({ host: "example.com", port: 443 });
 * await peer.write(first(request));
 */
export class TunnelDialer implements Route {
  readonly endpoint: RemoteEndpoint;
  readonly #token: string;
  readonly #pool: ReadyPool;
  /** The pinned certificate as the one anchor, once fetched (a pin without `caCerts`). */
  #anchor: Promise<string[]> | null = null;

  constructor(endpoint: RemoteEndpoint) {
    this.endpoint = endpoint;
    this.#token = trojanToken(`${endpoint.user}:${endpoint.password}`);
    this.#pool = new ReadyPool(() => this.#dial(), {
      ...POOL_DEFAULTS,
      ...endpoint.pool,
      max: endpoint.preconnect ?? 0,
    });
  }

  /**
   * A tunnel with its TLS handshake complete: one opened ahead if there is one, else a new one,
   * so failures can be told to the app.
   *
   * @throws {TunnelError} when the remote refuses, cannot be reached in time, or its
   *   certificate is not trusted
   */
  async connect(): Promise<Peer> {
    return this.#pool.take() ?? await this.#pool.dial();
  }

  /** Tunnels ready now (opened ahead, not yet used). */
  get ready(): number {
    return this.#pool.ready;
  }

  /** Closes the tunnels opened ahead and stops opening more. */
  close(): void {
    this.#pool.close();
  }

  async #dial(): Promise<Peer> {
    // A timer and a controller, not AbortSignal.timeout: see withDeadline in peer.ts.
    const deadline = new AbortController();
    const timer = setTimeout(() => deadline.abort(), this.endpoint.timeoutMs);
    try {
      return await this.#dialWithin(deadline.signal);
    } finally {
      clearTimeout(timer);
    }
  }

  /** TCP + TLS, the certificate checked (`node_tls_dial.ts`); nothing is written yet. */
  async #dialWithin(signal: AbortSignal): Promise<Peer> {
    const { remote, serverName, pin } = this.endpoint;
    const where = formatHostPort(remote);
    const caCerts = this.endpoint.caCerts ?? (pin ? await this.#pinnedAnchor() : undefined);
    try {
      const conn = await dialNodeTls(
        remote.host,
        remote.port,
        serverName ?? remote.host,
        { caCerts, pin },
        signal,
      );
      return new Peer(conn);
    } catch (error) {
      const failure = error as DialFailure;
      if (failure.phase === "tcp") {
        if (signal.aborted) {
          throw new TunnelError(`the remote ${where} did not answer in time`, "timeout");
        }
        if (failure.code === "ECONNREFUSED") {
          throw new TunnelError(`the remote ${where} refused the connection`, "refused");
        }
        throw new TunnelError(
          `the remote ${where} is unreachable: ${failure.message}`,
          "unreachable",
        );
      }
      if (signal.aborted) {
        throw new TunnelError(
          `the remote ${where} did not finish the TLS handshake in time`,
          "timeout",
        );
      }
      const why = pin && /certificate|pinned/i.test(failure.message)
        ? `its certificate is not the pinned one (${failure.message})`
        : failure.message;
      throw new TunnelError(`TLS with ${where} failed: ${why}`, "tls");
    }
  }

  /**
   * The pinned certificate, fetched once (the start could not: the remote was down, or showed
   * another certificate). Until it matches the pin, every tunnel fails, as a tunnel to a
   * certificate that is not the pinned one does.
   *
   * @throws {TunnelError} when it cannot be fetched or is not the pinned one; asked again next time
   */
  #pinnedAnchor(): Promise<string[]> {
    const { remote, serverName, pin, timeoutMs } = this.endpoint;
    this.#anchor ??= pinnedCertificate(remote, serverName ?? remote.host, pin!, timeoutMs).then(
      (pem) => [pem],
      (error) => {
        this.#anchor = null;
        const where = formatHostPort(remote);
        if (error instanceof PinMismatch) {
          throw new TunnelError(
            `TLS with ${where} failed: its certificate is not the pinned one (${error.message})`,
            "tls",
          );
        }
        if (error instanceof PinnedNameMismatch) {
          throw new TunnelError(`TLS with ${where} failed: ${error.message}`, "tls");
        }
        throw new TunnelError(
          `the remote ${where} is unreachable: ${error.message}`,
          "unreachable",
        );
      },
    );
    return this.#anchor;
  }

  /**
   * The tunnel header for `destination` followed by `payload`, for one write; `command` is
   * CONNECT unless given (UDP ASSOCIATE puts its first frame in `payload`).
   */
  header(
    destination: Destination,
    payload?: Uint8Array,
    command: number = TrojanCommand.connect,
  ): Uint8Array {
    return encodeTrojanHeader({ token: this.#token, command, destination }, payload);
  }

  /**
   * A tunnel (see {@linkcode connect}) whose first write is the Trojan header for
   * `destination` (CONNECT, or UDP ASSOCIATE for `udp`) with the session's first bytes.
   *
   * @throws {TunnelError}
   */
  async open(destination: Destination, network: "tcp" | "udp" = "tcp"): Promise<RouteConn> {
    const peer = await this.connect();
    const command = network === "udp" ? TrojanCommand.udpAssociate : TrojanCommand.connect;
    return { peer, first: (payload, to = destination) => this.header(to, payload, command) };
  }
}
