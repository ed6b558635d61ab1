/**
 * A TLS listener whose connections have Nagle's algorithm disabled, each a {@linkcode Conn}: the
 * remote's tunnel port, where `Deno.listenTls` was.
 *
 * Why `node:tls` and not `Deno.listenTls`: Deno's server-side `TlsConn` offers no `setNoDelay`,
 * and its TLS 1.3 server writes the handshake flight as three records in three `send` calls.
 * With Nagle on, the kernel holds the second and third until the first is acknowledged, and
 * the client delays that ACK by 40 ms: every new tunnel paid 40-90 ms (measured by
 * `deno task bench`). `node:tls` servers take `noDelay`, set before the handshake.
 */
import tls from "node:tls";
import type { Socket } from "node:net";
import type { HandshakeGate } from "./handshake_gate.ts";
import { AcceptWatchdog, claimAddress, rearmNodeServer } from "./accept_watchdog.ts";
import { NodeTlsConn } from "./node_tls_conn.ts";
import type { Conn } from "./conn.ts";

/** Connections not logged in that a stalled listener closes, oldest first, to free descriptors. */
const SHED_ON_STALL = 32;

/** What {@linkcode listenTls} needs: Deno's own listen options, cert and key. */
export interface TlsListenOptions {
  hostname: string;
  port: number;
  cert: string;
  key: string;
  /** Connections that do not finish the TLS handshake in this time are dropped. */
  handshakeTimeoutMs?: number;
  /** Counts connections in their TLS handshake, closing the oldest when full (slowloris). */
  gate?: HandshakeGate;
  /**
   * The ALPN protocols to select from, most preferred first; a client offering none of them
   * gets the alert `no_application_protocol`, as nginx gives it. Unset: no ALPN.
   */
  alpnProtocols?: string[];
}

/**
 * Listens for TLS on `hostname:port`. Binding is checked at once, as `Deno.listenTls` does.
 *
 * @throws {Deno.errors.AddrInUse} when the address is taken
 * @example const listener = listenTls({ hostname: "0.0.0.0", port: 8443, cert, key });
 */
export function listenTls(options: TlsListenOptions): TlsServerListener {
  return new NodeTlsListener(options);
}

/** A TLS listener whose certificate can be replaced while it listens. */
export interface TlsServerListener extends AsyncIterable<Conn>, Disposable {
  readonly addr: Deno.NetAddr;
  /**
   * The next connection, its TLS handshake done.
   *
   * @throws {Deno.errors.BadResource} once the listener is closed
   */
  accept(): Promise<Conn>;
  /** Stops listening; connections not yet accepted are closed. */
  close(): void;
  /**
   * Serves new connections with this certificate and key; open ones keep theirs. The pair is
   * not checked here (node takes junk and fails each handshake): check it first.
   */
  setCertificate(cert: string, key: string): void;
  /** Settles once the socket is bound and accepting (node binds asynchronously). */
  readonly listening: Promise<void>;
}

class NodeTlsListener implements TlsServerListener {
  readonly addr: Deno.NetAddr;
  readonly #server: tls.Server;
  #queue: NodeTlsConn[] = [];
  #waiting: { resolve(conn: NodeTlsConn): void; reject(error: Error): void }[] = [];
  #error: Error | null = null;
  readonly #watchdog: AcceptWatchdog;
  readonly listening: Promise<void>;

  constructor(options: TlsListenOptions) {
    // A taken address throws here, as callers of Deno.listenTls expect.
    this.addr = claimAddress(options.hostname, options.port);
    this.#server = tls.createServer({
      cert: options.cert,
      key: options.key,
      noDelay: true,
      allowHalfOpen: true,
      handshakeTimeout: options.handshakeTimeoutMs ?? 10_000,
      ALPNProtocols: options.alpnProtocols,
    });
    // node's own handshakeTimeout does not fire under Deno, so each raw socket gets a deadline
    // and a place in the gate until its handshake is done; destroy() works mid-handshake.
    const handshaking = new Map<string, { raw: Socket; close(): void; done(): void }>();
    const deadline = options.handshakeTimeoutMs ?? 10_000;
    this.#watchdog = new AcceptWatchdog({
      hostname: this.addr.hostname,
      port: this.addr.port,
      rearm: () => rearmNodeServer(this.#server, this.addr),
      onStall: () => options.gate?.shed(SHED_ON_STALL),
    });
    this.#server.on("connection", (raw: Socket) => {
      if (this.#watchdog.noteAccept(raw.remoteAddress, raw.remotePort)) return raw.destroy();
      const key = `${raw.remoteAddress}:${raw.remotePort}`;
      const timer = setTimeout(() => raw.destroy(), deadline);
      const entry = {
        raw,
        close: () => {
          clearTimeout(timer);
          raw.destroy();
        },
        done: () => {
          clearTimeout(timer);
          handshaking.delete(key);
          options.gate?.leave(entry);
          // Else the socket keeps this entry, its closures and its timer for its lifetime.
          raw.off("close", entry.done);
        },
      };
      handshaking.set(key, entry);
      options.gate?.enterHandshaking(entry, raw.remoteAddress ?? "");
      raw.once("close", entry.done);
    });
    this.#server.on("secureConnection", (socket: tls.TLSSocket) => {
      const entry = handshaking.get(`${socket.remoteAddress}:${socket.remotePort}`);
      entry?.done();
      const conn = new NodeTlsConn(socket, entry?.raw, { resetOnAbort: true });
      const waiter = this.#waiting.shift();
      if (waiter) waiter.resolve(conn);
      else this.#queue.push(conn);
    });
    this.#server.on("tlsClientError", () => {
      // A failed handshake concerns only that client.
    });
    this.#server.on("error", (error: Error) => this.#fail(error));
    this.listening = new Promise((resolve, reject) => {
      this.#server.once("listening", () => resolve());
      this.#server.once("error", reject);
    });
    this.#server.listen(this.addr.port, this.addr.hostname);
  }

  #fail(error: Error): void {
    this.#watchdog.stop();
    this.#error = error;
    for (const waiter of this.#waiting.splice(0)) waiter.reject(error);
  }

  accept(): Promise<NodeTlsConn> {
    const conn = this.#queue.shift();
    if (conn) return Promise.resolve(conn);
    if (this.#error) return Promise.reject(this.#error);
    return new Promise((resolve, reject) => this.#waiting.push({ resolve, reject }));
  }

  setCertificate(cert: string, key: string): void {
    this.#server.setSecureContext({ cert, key }); // the ALPN is the server's, kept
  }

  close(): void {
    if (this.#error) return;
    this.#server.close();
    this.#fail(new Deno.errors.BadResource("the listener is closed"));
    for (const conn of this.#queue.splice(0)) conn.close();
  }

  async *[Symbol.asyncIterator](): AsyncIterableIterator<NodeTlsConn> {
    for (;;) {
      try {
        yield await this.accept();
      } catch (error) {
        if (error instanceof Deno.errors.BadResource) return;
        throw error;
      }
    }
  }

  [Symbol.dispose](): void {
    this.close();
  }
}
