/**
 * Running the remote out of file descriptors: under `ulimit -n 256`, 230 TLS connections that
 * send part of a header. Deno's node:tls server stops accepting for good when accept fails with
 * EMFILE; the remote must notice, re-arm its listener and serve an honest user again within
 * 5 s, and one source must not hold more than 64 connections that have not logged in, nor
 * take the tunnel slots of `serve --max-conns`.
 */
import { assert, assertEquals } from "../_assert.ts";
import { curl, delay, LocalFixture, RemoteFixture, startOrigin } from "../_harness.ts";
import { partialHeaders } from "./_helpers.ts";

const NOFILE = 256;
const FLOOD = 230;

/** A remote under `ulimit -n 256`, a local and an origin; `honest()` times one download. */
async function limitedChain(serveArgs: string[] = []) {
  const origin = startOrigin();
  const remote = await RemoteFixture.start(undefined, serveArgs, { nofile: NOFILE });
  const local = await LocalFixture.start(remote);
  return {
    remote,
    async honest(): Promise<number> {
      const started = performance.now();
      const got = await curl(
        "--max-time",
        "5",
        "-x",
        `socks5h://${local.address}`,
        `http://127.0.0.1:${origin.port}/bytes/100000`,
      );
      assertEquals(got.code, 0, `honest download: ${got.stderr}\n${remote.program.output}`);
      assertEquals(got.body.length, 100_000, "bytes downloaded");
      return performance.now() - started;
    },
    async stop() {
      await local.stop();
      await remote.stop();
      await origin.close();
    },
  };
}

Deno.test("descriptors: a remote run out of descriptors accepts again once they are free", async () => {
  const chain = await limitedChain();
  try {
    // 23 sources of 10 each: under the per-source cap, so the process really runs out.
    const flood = await partialHeaders(chain.remote, FLOOD, 23);
    flood.close();
    const ms = await chain.honest();
    assert(ms < 5_000, `the honest download took ${Math.round(ms)} ms`);
    const stalls = chain.remote.program.output.match(/stopped accepting connections/g) ?? [];
    assertEquals(stalls.length, 1, `the stall is logged once:\n${chain.remote.program.output}`);
    console.log(`handshaken ${flood.handshaken}, honest download after ${Math.round(ms)} ms`);
  } finally {
    await chain.stop();
  }
});

Deno.test("descriptors: one source cannot hold more than 64 connections before login", async () => {
  const chain = await limitedChain();
  try {
    const flood = await partialHeaders(chain.remote, FLOOD);
    await delay(500); // the closes the remote sent are on their way
    const held = flood.open();
    assert(held <= 64, `${held} connections of one source are still open`);
    // While the flood holds what it can, an honest user (same address) gets through.
    const during = await chain.honest();
    flood.close();
    const after = await chain.honest();
    assert(after < 5_000, `the honest download took ${Math.round(after)} ms`);
    assert(
      /127\.0\.0\.1 has 64 connections that have not logged in/.test(chain.remote.program.output),
      `no warning:\n${chain.remote.program.output}`,
    );
    console.log(`held ${held}, honest ${Math.round(during)} ms during, ${Math.round(after)} after`);
  } finally {
    await chain.stop();
  }
});

Deno.test("descriptors: connections that have not logged in take no --max-conns slot", async () => {
  const chain = await limitedChain(["--max-conns", "20"]);
  try {
    const squatters = await partialHeaders(chain.remote, 40, 2);
    try {
      assert(squatters.open() >= 20, `only ${squatters.open()} squatters are open`);
      for (let i = 0; i < 3; i++) await chain.honest();
    } finally {
      squatters.close();
    }
  } finally {
    await chain.stop();
  }
});
