/**
 * `--preconnect`: the local keeps TLS connections to the remote ready after use, each carrying
 * exactly one client connection, and drops them when they age or the remote closes them.
 */
import { assert, assertEquals } from "../_assert.ts";
import { curl, delay, randomBytes, sha256, startChain, startOrigin } from "../_harness.ts";
import { connectionsTo } from "./_e2e.ts";

Deno.test("--preconnect keeps tunnels ready after use; each carries one client, bytes intact", async () => {
  const origin = startOrigin();
  const chain = await startChain([], { localArgs: ["--preconnect", "2"] });
  try {
    assertEquals(connectionsTo(chain.remote.port), 0, "nothing is opened before first use");
    const proxy = `socks5h://${chain.local.address}`;
    const url = `http://127.0.0.1:${origin.port}/bytes/300000`;
    const expected = await sha256(randomBytes(300000));
    const first = await curl("-x", proxy, url);
    assertEquals(first.code, 0, first.stderr);
    await delay(500);
    assertEquals(connectionsTo(chain.remote.port), 2, "two tunnels kept ready");
    for (let i = 0; i < 6; i++) {
      const next = await curl("-x", proxy, url);
      assertEquals(next.code, 0, next.stderr);
      assertEquals(await sha256(next.body), expected);
    }
    await delay(500);
    assertEquals(connectionsTo(chain.remote.port), 2, "still two ready, none reused");
  } finally {
    await chain.stop();
    await origin.close();
  }
  assertEquals(connectionsTo(chain.remote.port), 0, "stop closes the ready tunnels");
});

Deno.test("--preconnect 0 opens a tunnel only for a client", async () => {
  const origin = startOrigin();
  const chain = await startChain([], { localArgs: ["--preconnect", "0"] });
  try {
    const got = await curl(
      "-x",
      `socks5h://${chain.local.address}`,
      `http://127.0.0.1:${origin.port}/`,
    );
    assertEquals(got.code, 0, got.stderr);
    await delay(300);
    assertEquals(connectionsTo(chain.remote.port), 0);
  } finally {
    await chain.stop();
    await origin.close();
  }
});

Deno.test("tunnels kept ready are dropped when the remote restarts; the next client still gets through", async () => {
  const origin = startOrigin();
  const chain = await startChain([], { localArgs: ["--preconnect", "2"] });
  try {
    const proxy = `socks5h://${chain.local.address}`;
    const hello = `http://127.0.0.1:${origin.port}/`;
    assertEquals((await curl("-x", proxy, hello)).code, 0);
    await delay(300);
    const restart = performance.now();
    await chain.remote.program.stop("SIGKILL");
    await chain.remote.serve();
    assert(performance.now() - restart < 4000, "restart too slow to leave the tunnels young");
    await delay(300);
    for (let i = 0; i < 3; i++) {
      const again = await curl("-x", proxy, hello);
      assertEquals(again.code, 0, `request ${i} after the restart: ${again.stderr}`);
      assert(new TextDecoder().decode(again.body).includes("hello"));
    }
  } finally {
    await chain.stop();
    await origin.close();
  }
});
