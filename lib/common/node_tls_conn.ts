/**
 * A `node:tls` socket shaped like `Deno.TlsConn`, so a `Peer` reads and writes it: the remote's
 * accepted connections (`tls_listener.ts`) and, with `SWIFTPROXY_TLS_CLIENT=node`, the local's
 * tunnels (`lib/local/node_tls_dial.ts`).
 */
import type tls from "node:tls";
import type { Socket } from "node:net";

/** Buffered received bytes above which the socket is paused (backpressure). */
const HIGH_WATER = 256 * 1024;

/** A `node:tls` socket with the parts of `Deno.TlsConn` that `Peer` and servers use. */
export class NodeTlsConn {
  readonly localAddr: Deno.NetAddr;
  readonly remoteAddr: Deno.NetAddr;
  readonly #socket: tls.TLSSocket;
  #chunks: Uint8Array[] = [];
  #buffered = 0;
  #ended = false;
  #error: Error | null = null;
  #wake: (() => void) | null = null;

  /** The TCP socket under the TLS one: the only place where pausing reaches the kernel. */
  readonly #raw: RawHandle | undefined;

  constructor(socket: tls.TLSSocket, tcp?: Socket) {
    this.#socket = socket;
    this.#raw = tcp as unknown as RawHandle | undefined;
    const addresses = socket as unknown as Socket;
    this.localAddr = netAddr(addresses.localAddress, addresses.localPort);
    this.remoteAddr = netAddr(addresses.remoteAddress, addresses.remotePort);
    socket.on("data", (chunk: Uint8Array) => {
      this.#chunks.push(chunk);
      this.#buffered += chunk.length;
      if (this.#buffered >= HIGH_WATER) this.#pause();
      this.#notify();
    });
    socket.on("end", () => {
      this.#ended = true;
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
      const head = this.#chunks[0];
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
    if (this.#raw?._handle) this.#raw._handle.readStop();
    else this.#socket.pause();
  }

  #resume(): void {
    this.#paused = false;
    if (this.#raw?._handle) this.#raw._handle.readStart();
    else this.#socket.resume();
  }

  /** Resolves once node has taken all of `bytes`, so the caller may reuse them. */
  write(bytes: Uint8Array): Promise<number> {
    return new Promise((resolve, reject) => {
      this.#socket.write(bytes, (error) => error ? reject(error) : resolve(bytes.length));
    });
  }

  closeWrite(): Promise<void> {
    return new Promise((resolve) => this.#socket.end(resolve));
  }

  close(): void {
    this.#socket.destroy();
  }

  handshake(): Promise<Deno.TlsHandshakeInfo> {
    return Promise.resolve({ alpnProtocol: this.#socket.alpnProtocol || null });
  }

  ref(): void {
    (this.#socket as unknown as Socket).ref();
  }

  unref(): void {
    (this.#socket as unknown as Socket).unref();
  }

  [Symbol.dispose](): void {
    this.close();
  }
}

/** The internal TCP handle of a node socket, present while it is open. */
interface RawHandle {
  _handle: { readStop(): number; readStart(): number } | null;
}

function netAddr(hostname: string | undefined, port: number | undefined): Deno.NetAddr {
  return { transport: "tcp", hostname: hostname ?? "", port: port ?? 0 };
}
