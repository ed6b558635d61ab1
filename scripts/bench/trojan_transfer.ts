/**
 * A Trojan client in the benchmark's own process: one TLS tunnel per transfer to a node, that
 * downloads a set number of bytes from the sink (`sink.ts`) or uploads them to the upload
 * receiver (`upload_receiver.ts`) on loopback, and records when each byte arrived. Cheaper on
 * two cores than a `local.ts` per node and user.
 */
import { encodeTrojanHeader, TrojanCommand, trojanToken } from "../../lib/protocol/trojan.ts";
import { Counter } from "../../tests/limits/_traffic.ts";
import { encodeCommand, Op, readExactly, writeAll } from "./command.ts";
import type { UploadReceiver } from "./upload_receiver.ts";

/** Reads and writes in TLS-record-sized pieces, so byte times are fine-grained at 256 KiB/s. */
const PIECE = 16 * 1024;
const SOURCE = new Uint8Array(PIECE).fill(0xa5);

/** A node as a client sees it. */
export interface TrojanNode {
  name: string;
  port: number;
  /** The node's certificate (PEM), trusted for this connection only. */
  cert: string;
}

/** Where the tunnels go: the sink's port for downloads, the receiver of uploads. */
export interface FarEnds {
  sinkPort: number;
  uploads: UploadReceiver;
}

/** One tunnel's transfer and what the client saw of it. */
export interface Transfer {
  user: string;
  node: string;
  direction: "down" | "up";
  length: number;
  /** The payload bytes moved in `direction`, with their arrival times at the receiving end. */
  counter: Counter;
  /** Payload bytes the client sent and received in all, as the node should count them. */
  sent: number;
  received: number;
  ok: boolean;
}

/**
 * Moves `length` bytes through `node` for `user`: a download read to its last byte, or an
 * upload written whole and confirmed by the sink. Never throws: a failed tunnel ends with
 * `ok: false` and what it moved until then.
 *
 * @example await transfer(node, "u1", tokenOf("u1", password), ends, "down", 4 * 1024 * 1024)
 */
export async function transfer(
  node: TrojanNode,
  user: string,
  token: string,
  ends: FarEnds,
  direction: "down" | "up",
  length: number,
): Promise<Transfer> {
  const upload = direction === "up" ? ends.uploads.expect(length) : undefined;
  const counter = upload?.counter ?? new Counter();
  const result: Transfer = {
    user,
    node: node.name,
    direction,
    length,
    counter,
    sent: 0,
    received: 0,
    ok: false,
  };
  let conn: Deno.TlsConn | undefined;
  try {
    conn = await Deno.connectTls({ hostname: "127.0.0.1", port: node.port, caCerts: [node.cert] });
    const command = upload?.header ?? encodeCommand(Op.download, length);
    const port = upload ? ends.uploads.port : ends.sinkPort;
    await writeAll(
      conn,
      encodeTrojanHeader({
        token,
        command: TrojanCommand.connect,
        destination: { host: "127.0.0.1", port },
      }, command),
    );
    result.sent += command.length;
    if (direction === "down") {
      const buffer = new Uint8Array(PIECE * 4);
      while (counter.total < length) {
        const n = await conn.read(buffer);
        if (n === null) throw new Error(`download ended at ${counter.total}/${length}`);
        counter.add(n);
        result.received += n;
      }
    } else {
      for (let left = length; left > 0; left -= PIECE) {
        const piece = left >= PIECE ? SOURCE : SOURCE.subarray(0, left);
        await writeAll(conn, piece);
        result.sent += piece.length;
      }
      result.received += (await readExactly(conn, 1)).length;
    }
    result.ok = true;
  } catch {
    // counted as failed; what moved until then stays in the counts
  } finally {
    counter.ended = performance.now();
    try {
      conn?.close();
    } catch {
      // closed by the node
    }
  }
  return result;
}

/** The Trojan token of `user`'s credential. */
export function tokenOf(user: string, password: string): string {
  return trojanToken(`${user}:${password}`);
}
