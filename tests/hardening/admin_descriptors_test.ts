/**
 * The admin panel's listener out of file descriptors, under `ulimit -n 256`: idle connections
 * to the panel, or open tunnels using the remote's descriptors
 * up before one `GET /metrics` (as Prometheus asks every 15 s). The process must stay up, a listener holds at most
 * 64 connections, a request must be whole within 10 s, and the panel and the tunnel answer again once the descriptors are free.
 */
import { assert, assertEquals } from "../_assert.ts";
import { curl, delay, freePort, LocalFixture, RemoteFixture, startOrigin } from "../_harness.ts";
import { closeQuietly, startEcho } from "../_net.ts";
import { socksRequest } from "../e2e/_e2e.ts";
import { alive, stall, status, until } from "./_helpers.ts";

const NOFILE = 256;
const FLOOD = 240;
const MAX_CONNECTIONS = 64;
/** Tunnels opened at once: more than the remote has descriptors for. */
const TUNNELS = 120;

/** A remote with `--admin` under `ulimit -n 256`, a local, an origin. */
async function limitedAdmin() {
  const origin = startOrigin();
  const adminPort = freePort();
  const remote = await RemoteFixture.start(undefined, ["--admin", `127.0.0.1:${adminPort}`], {
    nofile: NOFILE,
  });
  await remote.program.waitFor(/admin panel on/);
  const local = await LocalFixture.start(remote);
  return {
    remote,
    running: alive(remote.program),
    metrics: `http://127.0.0.1:${adminPort}/metrics`,
    adminPort,
    localPort: local.port,
    async tunnel(): Promise<void> {
      const got = await curl(
        "--max-time",
        "5",
        "-x",
        `socks5h://${local.address}`,
        `http://127.0.0.1:${origin.port}/bytes/100000`,
      );
      assertEquals(got.code, 0, `download through the tunnel: ${got.stderr}`);
      assertEquals(got.body.length, 100_000, "bytes downloaded");
    },
    async stop() {
      await local.stop();
      await remote.stop();
      await origin.close();
    },
  };
}

Deno.test("descriptors: idle connections to the admin panel neither end the remote nor lock the panel", async () => {
  const chain = await limitedAdmin();
  try {
    const flood = await stall(chain.adminPort, FLOOD);
    await delay(1_000);
    const held = flood.opened - flood.closedAt.length;
    assert(chain.running(), `the remote exited:\n${chain.remote.program.output}`);
    assert(held <= MAX_CONNECTIONS, `the panel holds ${held} idle connections`);
    assertEquals(await status(chain.metrics), 200, "GET /metrics during the flood");
    await chain.tunnel();
    // Nobody sent a request: the panel closes them all at the 10 s deadline.
    const deadline = performance.now() + 12_000;
    while (flood.closedAt.length < flood.opened && performance.now() < deadline) await delay(200);
    assertEquals(flood.closedAt.length, flood.opened, "idle connections the panel closed");
    flood.close();
    assertEquals(await status(chain.metrics), 200, "GET /metrics after the flood");
    await chain.tunnel();
    assert(chain.running(), "the remote is still running");
    console.log(`opened ${flood.opened}, held at most ${held}, the remote stayed up`);
  } finally {
    await chain.stop();
  }
});

Deno.test("descriptors: open tunnels use the descriptors up, then GET /metrics", async () => {
  const chain = await limitedAdmin();
  const echo = startEcho();
  const tunnels: Deno.TcpConn[] = [];
  try {
    // Each tunnel holds two of the remote's descriptors (the local's and the destination's);
    // logged in, they are not the listener's to close.
    const opened = await Promise.allSettled(
      Array.from(
        { length: TUNNELS },
        () => socksRequest(chain.localPort, { host: "127.0.0.1", port: echo.port }),
      ),
    );
    let established = 0;
    for (const result of opened) {
      if (result.status !== "fulfilled") continue;
      tunnels.push(result.value.conn);
      if (result.value.rep === 0) established++;
    }
    const during = await status(chain.metrics, 3_000);
    assert(chain.running(), `the remote exited:\n${chain.remote.program.output}`);
    for (const conn of tunnels.splice(0)) closeQuietly(conn);
    assertEquals(await until(chain.metrics, 200, 5_000), 200, "GET /metrics after the tunnels");
    await chain.tunnel();
    assert(chain.running(), "the remote is still running");
    console.log(`GET /metrics with ${established} tunnels open: ${during || "no answer"}`);
  } finally {
    for (const conn of tunnels) closeQuietly(conn);
    await echo.close();
    await chain.stop();
  }
});
