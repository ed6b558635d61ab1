/**
 * A remote that accepts TCP and never finishes TLS: each tunnel gives up at the handshake
 * timeout, the client is told, and the local goes on serving (it once exited on this).
 */
import { assert, assertEquals } from "../_assert.ts";
import { curl, freePort, localArgs, Program } from "../_harness.ts";
import { quietLocalArgs, TcpServer } from "./_e2e.ts";

Deno.test("a remote that stalls the TLS handshake fails each request, and the local lives on", async () => {
  const stalled = new TcpServer(async (conn) => {
    // Read and say nothing, so the TLS handshake never completes.
    const buffer = new Uint8Array(4096);
    while ((await conn.read(buffer)) !== null) { /* swallow the ClientHello */ }
  });
  const dir = await Deno.makeTempDir({ prefix: "swiftproxy-stall-" });
  const port = freePort();
  const local = new Program(
    localArgs(
      "--listen",
      `127.0.0.1:${port}`,
      "--remote",
      `127.0.0.1:${stalled.port}`,
      "--user",
      "alice",
      "--handshake-timeout",
      "1",
      "--preconnect",
      "0",
      ...quietLocalArgs(dir),
    ),
    { env: { SWIFTPROXY_PASSWORD: "alice-secret" } },
  );
  try {
    await local.waitFor(/proxy on/);
    for (let i = 0; i < 2; i++) {
      const result = await curl(
        "--max-time",
        "8",
        "--socks5-hostname",
        `127.0.0.1:${port}`,
        "http://127.0.0.1:9/",
      );
      assert(result.code !== 0, `request ${i} should fail`);
    }
    assert(stalled.accepts >= 2, `the remote saw ${stalled.accepts} connections`);
    let exited = false;
    local.status.then(() => exited = true);
    await new Promise((r) => setTimeout(r, 200));
    assertEquals(exited, false, local.output);
    assert(!/BadResource|Uncaught/.test(local.output), local.output);
  } finally {
    await local.stop();
    await stalled.close();
    await Deno.remove(dir, { recursive: true });
  }
});
