/**
 * A SOCKS5 domain that is not UTF-8 (255 bytes of 0xff) is answered REP 0x08 by the local
 * itself, before any tunnel is taken, instead of a silent close that uses up a ready tunnel.
 */
import { assertEquals } from "../_assert.ts";
import { curl, startOrigin } from "../_harness.ts";
import { closeQuietly, startQuietChain } from "./_e2e.ts";

Deno.test("SOCKS5: a domain that is not UTF-8 gets REP 0x08 and takes no tunnel", async () => {
  const chain = await startQuietChain();
  const origin = startOrigin();
  try {
    const conn = await Deno.connect({ hostname: "127.0.0.1", port: chain.local.port });
    await conn.write(Uint8Array.of(5, 1, 0));
    const method = new Uint8Array(2);
    await conn.read(method);
    await conn.write(Uint8Array.of(5, 1, 0, 3, 255, ...new Array(255).fill(0xff), 0, 80));
    const reply = new Uint8Array(10);
    const n = await conn.read(reply);
    closeQuietly(conn);
    assertEquals([n, reply[0], reply[1]], [10, 5, 0x08], "the SOCKS5 reply");
    const remoteSaw = chain.remote.program.output.match(/alice \S+ -> /g) ?? [];
    assertEquals(remoteSaw, [], "tunnels the remote served");
    const after = await curl(
      "-x",
      `socks5h://${chain.local.address}`,
      `http://127.0.0.1:${origin.port}/`,
    );
    assertEquals(after.code, 0, after.stderr);
  } finally {
    await origin.close();
    await chain.stop();
  }
});
