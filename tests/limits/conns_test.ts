/**
 * Connection limits: a user's `--max-conns` and `serve --max-conns` refuse an extra connection
 * before any destination is dialled, and log it.
 */
import { assert, assertEquals } from "../_assert.ts";
import { delay, RemoteFixture } from "../_harness.ts";
import { startInProcessChain } from "../_inprocess.ts";
import type { RemoteConfig } from "../../lib/remote/tunnel/config.ts";
import { Counter, download, KiB, MiB, startEndpoint } from "./_traffic.ts";

/** Opens `n` slow downloads that stay open until `signal` aborts. */
function holdOpen(
  port: number,
  endpoint: ReturnType<typeof startEndpoint>,
  n: number,
  signal: AbortSignal,
) {
  return Array.from({ length: n }, () => download(port, endpoint, 64 * MiB, new Counter(), signal));
}

Deno.test("a user's --max-conns refuses the extra connection before dialling", async () => {
  const endpoint = startEndpoint();
  const chain = await startInProcessChain();
  const first = new AbortController();
  const second = new AbortController();
  try {
    await chain.remote.user("set", "alice", "--max-conns", "2", "--down", "64KiB");
    await delay(400);
    const held = [
      ...holdOpen(chain.local.port, endpoint, 1, first.signal),
      ...holdOpen(chain.local.port, endpoint, 1, second.signal),
    ];
    await delay(500);
    assertEquals(endpoint.accepted, 2, "connections that reached the destination");
    const extra = await download(chain.local.port, endpoint, 16 * KiB);
    assertEquals(extra.total, 0, "the third connection got bytes");
    assertEquals(endpoint.accepted, 2, "the third connection was dialled");
    assert(
      /refused alice from .*: too many connections/.test(chain.remote.program.output),
      `no refusal logged:\n${chain.remote.program.output}`,
    );
    first.abort();
    await held[0];
    // The remote notices when its next write to the closed tunnel fails.
    await chain.remote.program.waitFor(/alice \S+ -> \S+ up=\d+ down=\d+ \d+ms closed/, 3000);
    const after = await download(chain.local.port, endpoint, 16 * KiB);
    assert(!after.cut, `refused after one of the two closed:\n${chain.remote.program.output}`);
  } finally {
    first.abort();
    second.abort();
    await chain.stop();
    endpoint.close();
  }
});

/**
 * Holds `n` of alice's connections open on a remote with `config`, then checks that one more
 * is refused before its destination is dialled, with `refusal` in the remote's log.
 */
async function extraRefused(config: Partial<RemoteConfig>, n: number, refusal: RegExp) {
  const endpoint = startEndpoint();
  const chain = await startInProcessChain(config);
  const stop = new AbortController();
  try {
    await chain.remote.user("set", "alice", "--down", "64KiB");
    await delay(400);
    // In batches of 32, each through before the next: the remote closes the oldest of more
    // than 64 connections from one address that have not logged in yet, which 128 opened at
    // once on a busy machine were (`handshake_gate.ts`).
    const held: Promise<Counter>[] = [];
    for (let batch = 0; batch < n; batch += 32) {
      held.push(...holdOpen(chain.local.port, endpoint, Math.min(32, n - batch), stop.signal));
      for (let waited = 0; endpoint.accepted < held.length && waited < 30_000; waited += 50) {
        await delay(50);
      }
    }
    await delay(100);
    assertEquals(endpoint.accepted, n, "connections that reached the destination");
    const extra = await download(chain.local.port, endpoint, 16 * KiB);
    // Both in one message: a dialled extra and a held one that ended read differently.
    const seen = `the extra connection got ${extra.total} bytes, the destination saw ` +
      `${endpoint.accepted} connections of ${n} held`;
    assertEquals(extra.total, 0, seen);
    assertEquals(endpoint.accepted, n, seen);
    assert(
      refusal.test(chain.remote.program.output),
      `no refusal logged:\n${chain.remote.program.output}`,
    );
    stop.abort();
    await Promise.all(held);
  } finally {
    stop.abort();
    await chain.stop();
    endpoint.close();
  }
}

Deno.test("serve --max-conns refuses the extra connection before dialling", async () => {
  await extraRefused({ maxConns: 2 }, 2, /refused .*: the server has 2 connections open/);
});

Deno.test("a user without a max-conns of its own gets the server's default: the 129th connection is refused", async () => {
  // The defaults of `serve`: --user-max-conns 128, --max-conns 1024.
  await extraRefused({}, 128, /refused alice from .*: too many connections/);
});

Deno.test("serve's start line shows the connection limits", async () => {
  const remote = await RemoteFixture.start();
  try {
    assert(
      /listening on 127\.0\.0\.1:\d+ \(connections: 1024 in all, 128 per user without a max-conns of its own\)/
        .test(remote.program.output),
      remote.program.output,
    );
    await remote.program.stop();
    await remote.serve(["--max-conns", "0", "--user-max-conns", "0"]);
    await remote.program.waitFor(
      /listening on \S+ \(connections: unlimited in all, unlimited per user without/,
    );
  } finally {
    await remote.stop();
  }
});
