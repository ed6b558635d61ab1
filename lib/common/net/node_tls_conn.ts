/**
 * A `node:tls` socket as a {@linkcode Conn}, so a `Peer` reads and writes it: the remote's
 * accepted connections (`tls_listener.ts`) and the local's tunnels (`lib/local/tunnel/node_tls_dial.ts`).
 *
 * An abrupt end must stay one. Deno's `node:tls` reports a TCP reset, and a TCP close without
 * TLS close_notify, as a clean end, so a cut tunnel would look finished (the local could not
 * say "the remote closed the tunnel at once", a cut download would look complete). So with
 * `resetOnAbort` a close before {@linkcode NodeTlsConn.closeWrite} resets the TCP connection,
 * and a TLS end on a reset TCP connection ({@linkcode tcpResetCheck}) is reported as
 * `UnexpectedEof`, as `Deno.TlsConn` reports a cut.
 */
import type tls from "node:tls";
import type { Socket } from "node:net";
import type { Conn } from "./conn.ts";
import { resetTcp, tcpReads, tcpResetCheck } from "./node_internals.ts";

export { tcpResetCheck };

/** Buffered received bytes above which the socket is paused (backpressure). */
const HIGH_WATER = 256 * 1024;

/** How a {@linkcode NodeTlsConn} ends abruptly and tells an abrupt end. */
export interface NodeTlsConnOptions {
  resetOnAbort?: boolean;
  wasReset?: () => boolean;
}

/** A `node:tls` socket as the connection `Peer` and servers use. */
export class NodeTlsConn implements Conn {
  readonly #socket: tls.TLSSocket;
  #chunks: Uint8Array[] = [];
  #buffered = 0;
  #ended = false;
  #error: Error | null = null;
  #wake: (() => void) | null = null;

  /** The TCP socket under the TLS one, if node:net made it. */
  readonly #tcp: Socket | undefined;
  /** The reads of the TCP socket under the TLS one: the only place pausing reaches the kernel. */
  readonly #reads: { pause(): void; resume(): void };
  readonly #resetOnAbort: boolean;
  #writeClosed = false;

  readonly #wasReset: () => boolean;

  /**
   * Wraps `socket`, whose TCP socket is `tcp`. `resetOnAbort`: {@linkcode close} before
   * {@linkcode closeWrite} sends a TCP reset, an abrupt end the far side can tell apart.
   * `wasReset`: whether the TCP connection was reset (see {@linkcode tcpResetCheck}).
   */
  constructor(
    socket: tls.TLSSocket,
    tcp?: Socket,
    { resetOnAbort = false, wasReset = () => false }: NodeTlsConnOptions = {},
  ) {
    this.#socket = socket;
    this.#tcp = tcp;
    this.#reads = tcpReads(socket, tcp);
    this.#resetOnAbort = resetOnAbort;
    this.#wasReset = wasReset;
    socket.on("data", (chunk: Uint8Array) => {
      this.#chunks.push(chunk);
      this.#buffered += chunk.length;
      if (this.#buffered >= HIGH_WATER) this.#pause();
      this.#notify();
    });
    socket.on("end", () => {
      // What Deno.startTls reports for a cut: the end came without TLS close_notify.
      if (this.#wasReset()) {
        this.#error ??= new Deno.errors.UnexpectedEof(
          "the connection was reset without TLS close_notify",
        );
      } else this.#ended = true;
      this.#notify();
    });
    socket.on("error", (error: Error) => {
      this.#error ??= new Deno.errors.ConnectionReset(error.message);
      this.#notify();
    });
    socket.on("close", () => {
      if (!this.#ended) this.#error ??= new Deno.errors.ConnectionReset("the socket closed");
      this.#notify();
    });
  }

  #localAddr: Deno.NetAddr | undefined;
  #remoteAddr: Deno.NetAddr | undefined;

  /** Asked for on first use (a system call each): the local never asks for a tunnel's. */
  get localAddr(): Deno.NetAddr {
    const socket = this.#socket;
    return this.#localAddr ??= netAddr(socket.localAddress, socket.localPort);
  }

  get remoteAddr(): Deno.NetAddr {
    const socket = this.#socket;
    return this.#remoteAddr ??= netAddr(socket.remoteAddress, socket.remotePort);
  }

  #notify(): void {
    const wake = this.#wake;
    this.#wake = null;
    wake?.();
  }

  async read(into: Uint8Array): Promise<number | null> {
    while (this.#chunks.length === 0) {
      if (this.#error) throw this.#error;
      if (this.#ended) return null;
      await new Promise<void>((resolve) => this.#wake = resolve);
    }
    let filled = 0;
    while (filled < into.length && this.#chunks.length > 0) {
      const head = this.#chunks[0]!;
      const take = Math.min(head.length, into.length - filled);
      into.set(take === head.length ? head : head.subarray(0, take), filled);
      filled += take;
      if (take === head.length) this.#chunks.shift();
      else this.#chunks[0] = head.subarray(take);
    }
    this.#buffered -= filled;
    if (this.#buffered < HIGH_WATER && this.#paused) this.#resume();
    return filled;
  }

  #paused = false;

  /**
   * Stops reading. Under Deno, pausing the TLS socket only stops its events: the TLS layer
   * keeps reading from the network and buffers without limit (a fast upload to a throttled
   * user grew the remote by gigabytes). Stopping the TCP handle's reads gives real backpressure.
   */
  #pause(): void {
    this.#paused = true;
    this.#reads.pause();
  }

  #resume(): void {
    this.#paused = false;
    this.#reads.resume();
  }

  /** Resolves once node has taken all of `bytes`, so the caller may reuse them. */
  write(bytes: Uint8Array): Promise<number> {
    return new Promise((resolve, reject) => {
      this.#socket.write(bytes, (error) => error ? reject(error) : resolve(bytes.length));
    });
  }

  closeWrite(): Promise<void> {
    this.#writeClosed = true;
    return new Promise((resolve) => this.#socket.end(resolve));
  }

  close(): void {
    if (this.#resetOnAbort && !this.#writeClosed) resetTcp(this.#tcp);
    this.#socket.destroy();
  }

  handshake(): Promise<Deno.TlsHandshakeInfo> {
    return Promise.resolve({ alpnProtocol: this.#socket.alpnProtocol || null });
  }

  ref(): void {
    this.#socket.ref();
  }

  unref(): void {
    this.#socket.unref();
  }

  [Symbol.dispose](): void {
    this.close();
  }
}

function netAddr(hostname: string | undefined, port: number | undefined): Deno.NetAddr {
  return { transport: "tcp", hostname: hostname ?? "", port: port ?? 0 };
}
