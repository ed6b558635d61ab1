/**
 * The far end of uploads for `bench_multinode.ts`, in the bench process: it times each byte's
 * arrival per transfer, since on loopback a sender's writes land in socket buffers megabytes
 * ahead of what the node lets through. A connection sends a 4-byte transfer id and an 8-byte
 * length, then that many bytes; the receiver answers one byte.
 */
import { Counter } from "../../tests/limits/_traffic.ts";
import { readExactly, writeAll } from "./command.ts";

const HEADER_SIZE = 12;

/** A loopback receiver of uploads; {@linkcode expect} gives each upload its id and counter. */
export class UploadReceiver {
  readonly #listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  readonly #counters = new Map<number, Counter>();
  #next = 0;

  constructor() {
    (async () => {
      for await (const conn of this.#listener) this.#receive(conn);
    })().catch(() => {});
  }

  get port(): number {
    return this.#listener.addr.port;
  }

  /** A new upload: the header to send first and the counter its bytes arrive in. */
  expect(length: number): { header: Uint8Array; counter: Counter } {
    const id = ++this.#next;
    const counter = new Counter();
    this.#counters.set(id, counter);
    const header = new Uint8Array(HEADER_SIZE);
    const view = new DataView(header.buffer);
    view.setUint32(0, id);
    view.setBigUint64(4, BigInt(length));
    return { header, counter };
  }

  async #receive(conn: Deno.TcpConn): Promise<void> {
    try {
      const header = new DataView((await readExactly(conn, HEADER_SIZE)).buffer);
      const counter = this.#counters.get(header.getUint32(0));
      const length = Number(header.getBigUint64(4));
      if (!counter) return;
      const buffer = new Uint8Array(64 * 1024);
      let left = length;
      while (left > 0) {
        const n = await conn.read(buffer);
        if (n === null) return;
        counter.add(n);
        left -= n;
      }
      await writeAll(conn, Uint8Array.of(0x4b));
    } catch {
      // the tunnel was cut; the client counts it as failed
    } finally {
      try {
        conn.close();
      } catch {
        // closed
      }
    }
  }

  close(): void {
    this.#listener.close();
  }
}
