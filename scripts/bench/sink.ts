/**
 * The benchmark's far end, run as its own process so the load generator and the sink do not
 * share a CPU core: a loopback TCP server that obeys a 9-byte command (see `command.ts`).
 *
 * @example deno run -P=bench scripts/bench/sink.ts   # prints "sink on PORT"
 */
import { CHUNK, COMMAND_SIZE, decodeCommand, Op, readExactly, writeAll } from "./command.ts";

const source = new Uint8Array(CHUNK).fill(0x5a);

async function serve(conn: Deno.TcpConn): Promise<void> {
  conn.setNoDelay(true);
  const buffer = new Uint8Array(CHUNK);
  try {
    const { op, length } = decodeCommand(await readExactly(conn, COMMAND_SIZE));
    if (op === Op.download) {
      for (let left = length; left > 0; left -= CHUNK) {
        await writeAll(conn, left >= CHUNK ? source : source.subarray(0, left));
      }
    } else if (op === Op.upload) {
      let left = length;
      while (left > 0) {
        const n = await conn.read(buffer);
        if (n === null) return;
        left -= n;
      }
      await writeAll(conn, Uint8Array.of(0x4b));
    } else if (op === Op.ping) {
      await writeAll(conn, Uint8Array.of(0x50));
    }
    // Every op ends in echo mode, so held tunnels can prove they still work.
    for (;;) {
      const n = await conn.read(buffer);
      if (n === null) break;
      await writeAll(conn, buffer.subarray(0, n));
    }
  } catch {
    // a reset by the client ends the session
  } finally {
    try {
      conn.close();
    } catch {
      // already closed
    }
  }
}

const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
console.log(`sink on ${listener.addr.port}`);
for await (const conn of listener) serve(conn);
