/** Opening tunnels to the remote: one TLS connection per client connection. */
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

/** Opens tunnels to one remote with one account. */
export class TunnelDialer {
  readonly endpoint: RemoteEndpoint;
  readonly #token: string;

  constructor(endpoint: RemoteEndpoint) {
    this.endpoint = endpoint;
    this.#token = trojanToken(`${endpoint.user}:${endpoint.password}`);
  }

  /**
   * Connects and completes the TLS handshake, so failures can be told to the app.
   *
   * @throws {TunnelError} when the remote refuses, cannot be reached in time, or its
   *   certificate is not trusted
   */
  async connect(): Promise<Peer> {
    const { remote, serverName, caCerts, timeoutMs } = this.endpoint;
    const signal = AbortSignal.timeout(timeoutMs);
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
    const close = () => tcp.close();
    signal.addEventListener("abort", close, { once: true });
    try {
      const tls = await Deno.startTls(tcp, { hostname: serverName ?? remote.host, caCerts });
      await tls.handshake();
      return new Peer(tls);
    } catch (error) {
      if (signal.aborted) {
        throw new TunnelError(
          `the remote ${where} did not finish the TLS handshake in time`,
          "timeout",
        );
      }
      try {
        tcp.close();
      } catch {
        // already closed by the failed handshake
      }
      throw new TunnelError(`TLS with ${where} failed: ${(error as Error).message}`, "tls");
    } finally {
      signal.removeEventListener("abort", close);
    }
  }

  /** The tunnel header for `destination` followed by `payload`, for one write. */
  header(destination: Destination, payload?: Uint8Array): Uint8Array {
    return encodeTrojanHeader(
      { token: this.#token, command: TrojanCommand.connect, destination },
      payload,
    );
  }

  /** Connects and sends the header with `payload` at once. @throws {TunnelError} */
  async open(destination: Destination, payload?: Uint8Array): Promise<Peer> {
    const tunnel = await this.connect();
    await tunnel.write(this.header(destination, payload));
    return tunnel;
  }
}
