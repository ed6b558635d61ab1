/**
 * A destination that speaks first (SSH, SMTP, MySQL): its greeting reaches a client that has
 * sent nothing, since the local sends the tunnel header at once.
 */
import { assertEquals } from "../_assert.ts";
import { startInProcessPair } from "../_inprocess.ts";
import {
  closeQuietly,
  httpConnect,
  readExactly,
  socksRequest,
  TcpServer,
  writeAll,
} from "./_e2e.ts";

const encoder = new TextEncoder();
const decoder = new TextDecoder();
const GREETING = "220 greeting from a server that speaks first\r\n";

/** Greets at once, then echoes. */
function greetingOrigin(): TcpServer {
  return new TcpServer(async (conn) => {
    await writeAll(conn, encoder.encode(GREETING));
    const buffer = new Uint8Array(1024);
    for (;;) {
      const n = await conn.read(buffer);
      if (n === null) return;
      await writeAll(conn, buffer.subarray(0, n));
    }
  });
}

/** Reads the greeting without having sent a byte, then checks that the tunnel still echoes. */
async function greetedThenEchoed(conn: Deno.Conn): Promise<void> {
  assertEquals(decoder.decode(await readExactly(conn, GREETING.length)), GREETING);
  const quit = encoder.encode("QUIT\r\n");
  await writeAll(conn, quit);
  assertEquals(decoder.decode(await readExactly(conn, quit.length)), "QUIT\r\n");
}

Deno.test("server speaks first: the greeting reaches a silent client", async (t) => {
  const chain = await startInProcessPair();
  const origin = greetingOrigin();
  try {
    const target = { host: "127.0.0.1", port: origin.port };
    const routes: Record<string, () => Promise<{ conn: Deno.TcpConn; rep: number }>> = {
      "through SOCKS5": () => socksRequest(chain.local.port, target),
      "through HTTP CONNECT": async () => ({
        conn: await httpConnect(chain.local.port, `127.0.0.1:${origin.port}`),
        rep: 0x00,
      }),
    };
    for (const [name, open] of Object.entries(routes)) {
      await t.step(name, async () => {
        const { conn, rep } = await open();
        try {
          assertEquals(rep, 0x00);
          await greetedThenEchoed(conn);
        } finally {
          closeQuietly(conn);
        }
      });
    }
  } finally {
    await origin.close();
    await chain.stop();
  }
});
