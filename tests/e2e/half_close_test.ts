/**
 * Half-close through the whole chain: a client that ends its writing still receives the
 * whole reply from an origin that reads until EOF before it answers.
 */
import { assertEquals } from "../_assert.ts";
import { randomBytes, sha256 } from "../_harness.ts";
import { startInProcessPair } from "../_inprocess.ts";
import {
  assertSameBytes,
  closeQuietly,
  httpConnect,
  readAll,
  socksRequest,
  TcpServer,
  writeAll,
} from "./_e2e.ts";

const encoder = new TextEncoder();
const decoder = new TextDecoder();

/** An origin that reads to EOF, then sends a summary line and `replySize` bytes, then closes. */
function readToEofOrigin(replySize: number): TcpServer {
  return new TcpServer(async (conn) => {
    const request = await readAll(conn);
    await writeAll(conn, encoder.encode(`got ${request.length} ${await sha256(request)}\n`));
    await writeAll(conn, randomBytes(replySize, 9));
  });
}

Deno.test("half-close: the reply still arrives after the client ends its writing", async (t) => {
  const chain = await startInProcessPair();
  const replySize = 2 * 1024 * 1024;
  const origin = readToEofOrigin(replySize);
  const request = randomBytes(300_000, 4);
  const expectedHead = `got ${request.length} ${await sha256(request)}\n`;
  const check = async (reply: Uint8Array) => {
    const head = decoder.decode(reply.subarray(0, expectedHead.length));
    assertEquals(head, expectedHead);
    await assertSameBytes(reply.subarray(expectedHead.length), randomBytes(replySize, 9));
  };
  try {
    await t.step("SOCKS5 by hand, then closeWrite()", async () => {
      const { conn, rep } = await socksRequest(chain.local.port, {
        host: "127.0.0.1",
        port: origin.port,
      });
      try {
        assertEquals(rep, 0x00);
        await writeAll(conn, request);
        await conn.closeWrite();
        await check(await readAll(conn));
      } finally {
        closeQuietly(conn);
      }
    });

    await t.step("HTTP CONNECT by hand, then closeWrite()", async () => {
      const conn = await httpConnect(chain.local.port, `127.0.0.1:${origin.port}`);
      try {
        await writeAll(conn, request);
        await conn.closeWrite();
        await check(await readAll(conn));
      } finally {
        closeQuietly(conn);
      }
    });
  } finally {
    await origin.close();
    await chain.stop();
  }
});
