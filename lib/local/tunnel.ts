/**
 * Opening tunnels to the remote: one TLS connection per client connection, never reused. A few
 * are opened ahead (TCP + TLS done, header not sent), so a new client connection skips the
 * handshake round trips: what a browser opening a page waits for.
 */
import { encodeTrojanHeader, TrojanCommand, trojanToken } from "../protocol/trojan.ts";
import { formatHostPort } from "../protocol/address.ts";
import type { Destination } from "../protocol/address.ts";
import { Peer } from "../common/peer.ts";

/** Where the remote is and how to log in. */
export interface RemoteEndpoint {
  remote: Destination;
  user: string;
  password: string;
  /** Extra trusted CA certificates (PEM), e.g. the remote's self-signed one. */
  caCerts?: string[];
  /** Name to check the certificate against, when not the remote's host. */
  serverName?: string;
  /** Time allowed for TCP connect + TLS handshake. */
  timeoutMs: number;
  /** Tunnels kept open ahead of use (0 for none); see {@linkcode TunnelDialer}. */
  preconnect?: number;
}

/**
 * Longest a tunnel opened ahead waits for a client. The remote closes a tunnel whose header is
 * late (10 s by default, its `--handshake-timeout`); a tunnel it closes sooner is noticed and dropped.
 */
const WARM_MAX_AGE_MS = 5_000;
/** The pool refills only while tunnels were used this recently, so an idle local goes quiet. */
const WARM_WHILE_USED_MS = 60_000;

/** A tunnel opened ahead: TLS is up, the header not yet sent. */
interface WarmTunnel {
  peer: Peer;
  openedAt: number;
}

/** Why a tunnel could not be opened; `kind` maps to a SOCKS5 REP code. */
export class TunnelError extends Error {
  constructor(
    message: string,
    readonly kind: "refused" | "unreachable" | "tls" | "timeout",
  ) {
    super(message);
    this.name = "TunnelError";
  }
}

/**
 * Opens tunnels to one remote with one account. Keeps `endpoint.preconnect` tunnels open ahead
 * while the local is in use: each goes to exactly one client connection, at most
 * {@linkcode WARM_MAX_AGE_MS} after it was opened. Call {@linkcode close} when done.
 */
export class TunnelDialer {
  readonly endpoint: RemoteEndpoint;
  readonly #token: string;
  readonly #warm: WarmTunnel[] = [];
  #opening = 0;
  #lastUsed = -Infinity;
  #expiry: ReturnType<typeof setInterval> | undefined;
  #closed = false;

  constructor(endpoint: RemoteEndpoint) {
    this.endpoint = endpoint;
    this.#token = trojanToken(`${endpoint.user}:${endpoint.password}`);
  }

  /**
   * A tunnel with its TLS handshake complete: one opened ahead if there is one, else a new one,
   * so failures can be told to the app.
   *
   * @throws {TunnelError} when the remote refuses, cannot be reached in time, or its
   *   certificate is not trusted
   */
  async connect(): Promise<Peer> {
    this.#lastUsed = performance.now();
    const peer = this.#takeWarm() ?? await this.#dial();
    this.#refill();
    return peer;
  }

  /** Closes the tunnels opened ahead and stops opening more. */
  close(): void {
    this.#closed = true;
    clearInterval(this.#expiry);
    for (const { peer } of this.#warm.splice(0)) peer.close();
  }

  #takeWarm(): Peer | undefined {
    this.#dropStale();
    return this.#warm.pop()?.peer;
  }

  #dropStale(): void {
    const now = performance.now();
    while (this.#warm.length > 0 && now - this.#warm[0].openedAt > WARM_MAX_AGE_MS) {
      this.#warm.shift()!.peer.close();
    }
  }

  /** Opens tunnels ahead up to the pool size, while the local is in use. */
  #refill(): void {
    const size = this.endpoint.preconnect ?? 0;
    while (
      !this.#closed && this.#warm.length + this.#opening < size &&
      performance.now() - this.#lastUsed < WARM_WHILE_USED_MS
    ) {
      this.#opening++;
      this.#dial().then((peer) => this.#keep(peer), () => {
        // The remote is down or refusing: the next connect() reports it and tries again.
        this.#lastUsed = -Infinity;
      }).finally(() => this.#opening--);
    }
    if (this.#expiry === undefined && size > 0 && !this.#closed) {
      this.#expiry = setInterval(() => this.#tick(), 1000);
      Deno.unrefTimer(this.#expiry);
    }
  }

  #keep(peer: Peer): void {
    if (this.#closed) {
      peer.close();
      return;
    }
    const entry = { peer, openedAt: performance.now() };
    this.#warm.push(entry);
    // The remote sends nothing before the header: any answer means it closed the tunnel.
    peer.readAhead().catch(() => null).then(() => {
      const at = this.#warm.indexOf(entry);
      if (at < 0) return;
      this.#warm.splice(at, 1);
      peer.close();
    });
  }

  #tick(): void {
    this.#dropStale();
    this.#refill();
    const using = performance.now() - this.#lastUsed < WARM_WHILE_USED_MS;
    if (!using && this.#warm.length === 0 && this.#opening === 0) {
      clearInterval(this.#expiry);
      this.#expiry = undefined;
    }
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

  async #dialWithin(signal: AbortSignal): Promise<Peer> {
    const { remote, serverName, caCerts } = this.endpoint;
    const where = formatHostPort(remote);
    let tcp: Deno.TcpConn;
    try {
      tcp = await Deno.connect({ hostname: remote.host, port: remote.port, signal });
    } catch (error) {
      if (error instanceof Deno.errors.ConnectionRefused) {
        throw new TunnelError(`the remote ${where} refused the connection`, "refused");
      }
      if (signal.aborted) {
        throw new TunnelError(`the remote ${where} did not answer in time`, "timeout");
      }
      throw new TunnelError(
        `the remote ${where} is unreachable: ${(error as Error).message}`,
        "unreachable",
      );
    }
    tcp.setNoDelay(true);
    // Once startTls has taken the TCP connection, only the TLS one can be closed: closing the
    // TCP resource then throws BadResource, which from an abort listener would end the process.
    let tls: Deno.TlsConn | undefined;
    const close = () => {
      try {
        (tls ?? tcp).close();
      } catch {
        // already closed
      }
    };
    signal.addEventListener("abort", close, { once: true });
    try {
      tls = await Deno.startTls(tcp, { hostname: serverName ?? remote.host, caCerts });
      await tls.handshake();
      return new Peer(tls);
    } catch (error) {
      if (signal.aborted) {
        throw new TunnelError(
          `the remote ${where} did not finish the TLS handshake in time`,
          "timeout",
        );
      }
      close();
      throw new TunnelError(`TLS with ${where} failed: ${(error as Error).message}`, "tls");
    } finally {
      signal.removeEventListener("abort", close);
    }
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

  /** Connects and sends the header with `payload` at once. @throws {TunnelError} */
  async open(destination: Destination, payload?: Uint8Array): Promise<Peer> {
    const tunnel = await this.connect();
    await tunnel.write(this.header(destination, payload));
    return tunnel;
  }
}
