/**
 * Helpers for the shipping tests: a loopback echo server, and a raw Trojan tunnel to a remote
 * (TLS + header, as any Trojan client sends it), so a test controls every byte and the timing.
 */
import { encodeTrojanHeader, TrojanCommand, trojanToken } from "../../lib/protocol/trojan.ts";
import type { RemoteFixture } from "../_harness.ts";

/** An open tunnel through the remote to `127.0.0.1:port`. */
export class Tunnel {
  readonly conn: Deno.TlsConn;
  readonly #reader: ReadableStreamDefaultReader<Uint8Array>;
  readonly #writer: WritableStreamDefaultWriter<Uint8Array>;

  private constructor(conn: Deno.TlsConn) {
    this.conn = conn;
    this.#reader = conn.readable.getReader();
    this.#writer = conn.writable.getWriter();
  }

  /** Connects with TLS (trusting `caPem`) and sends the header for `credential`. */
  static async open(
    remote: RemoteFixture,
    credential: string,
    port: number,
    caPem = Deno.readTextFileSync(remote.certPath),
  ): Promise<Tunnel> {
    const conn = await Deno.connectTls({
      hostname: "127.0.0.1",
      port: remote.port,
      caCerts: [caPem],
    });
    await conn.handshake();
    const tunnel = new Tunnel(conn);
    await tunnel.#writer.write(encodeTrojanHeader({
      token: trojanToken(credential),
      command: TrojanCommand.connect,
      destination: { host: "127.0.0.1", port },
    }));
    return tunnel;
  }

  /** Sends `bytes` and reads the same number back (through an echo server). */
  async echo(bytes: Uint8Array): Promise<Uint8Array> {
    await this.#writer.write(bytes);
    const out = new Uint8Array(bytes.length);
    let got = 0;
    while (got < out.length) {
      const { value, done } = await this.#reader.read();
      if (done) throw new Error(`the tunnel closed after ${got} of ${out.length} bytes`);
      out.set(value.subarray(0, out.length - got), got);
      got += value.length;
    }
    return out;
  }

  /** Resolves when the remote closes the tunnel (end of stream or reset). */
  async closed(): Promise<void> {
    try {
      while (!(await this.#reader.read()).done) {
        // drain
      }
    } catch {
      // a reset is a close too
    }
  }

  close(): void {
    try {
      this.conn.close();
    } catch {
      // already closed
    }
  }
}

/** A user's row as `user list --json` prints it. */
export async function usage(
  remote: RemoteFixture,
  name: string,
): Promise<{ bytesUp: number; bytesDown: number }> {
  const users = JSON.parse(await remote.user("list", "--json")) as {
    name: string;
    bytesUp: number;
    bytesDown: number;
  }[];
  const user = users.find((u) => u.name === name);
  if (!user) throw new Error(`no user ${name} in ${JSON.stringify(users)}`);
  return user;
}

export { startEcho } from "../_net.ts";
