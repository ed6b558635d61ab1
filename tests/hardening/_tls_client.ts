/** A raw TLS client for probing a remote step by step: send, wait, send more, watch the close. */
import tls from "node:tls";
import { delay } from "../_harness.ts";

/** One TLS connection to a remote, with what came back and whether it closed. */
export class TlsProbe {
  readonly #socket: tls.TLSSocket;
  #received: Uint8Array[] = [];
  closed = false;
  readonly openedAt = performance.now();
  closedAfterMs = NaN;

  private constructor(socket: tls.TLSSocket) {
    this.#socket = socket;
    socket.on("data", (chunk: Uint8Array) => this.#received.push(new Uint8Array(chunk)));
    const done = () => {
      if (this.closed) return;
      this.closed = true;
      this.closedAfterMs = performance.now() - this.openedAt;
    };
    socket.on("end", done);
    socket.on("close", done);
    socket.on("error", done);
  }

  /** Opens a connection (from `localAddress` if given) and waits for the TLS handshake. */
  static open(
    remote: { port: number; certPath: string },
    localAddress?: string,
  ): Promise<TlsProbe> {
    return new Promise((resolve, reject) => {
      // localAddress reaches net.connect underneath; node's types leave it out of tls.
      const options: tls.ConnectionOptions & { localAddress?: string } = {
        host: "127.0.0.1",
        port: remote.port,
        localAddress,
        ca: Deno.readTextFileSync(remote.certPath),
        servername: "localhost",
      };
      const socket = tls.connect(options);
      socket.once("secureConnect", () => resolve(new TlsProbe(socket)));
      socket.once("error", reject);
    });
  }

  /** Sends bytes (a string as Latin-1/ASCII). */
  send(bytes: Uint8Array | string): void {
    this.#socket.write(typeof bytes === "string" ? new TextEncoder().encode(bytes) : bytes);
  }

  /** Everything received so far, as text. */
  get text(): string {
    return new TextDecoder().decode(
      this.#received.reduce((a, b) => new Uint8Array([...a, ...b]), new Uint8Array()),
    );
  }

  /** Waits until `done()` holds, or `ms` pass; returns whether it held. */
  async until(done: () => boolean, ms = 5_000): Promise<boolean> {
    const deadline = performance.now() + ms;
    while (!done()) {
      if (performance.now() > deadline) return false;
      await delay(20);
    }
    return true;
  }

  close(): void {
    this.#socket.destroy();
  }
}
