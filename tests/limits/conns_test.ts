/**
 * Connection limits: a user's `--max-conns` and `serve --max-conns` refuse an extra connection
 * before any destination is dialled, and log it.
 */
import { assert, assertEquals } from "../_assert.ts";
import { delay } from "../_harness.ts";
import { startInProcessChain } from "../_inprocess.ts";
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

Deno.test("serve --max-conns refuses the extra connection before dialling", async () => {
  const endpoint = startEndpoint();
  const chain = await startInProcessChain({ maxConns: 2 });
  const stop = new AbortController();
  try {
    await chain.remote.user("set", "alice", "--down", "64KiB");
    await delay(400);
    const held = holdOpen(chain.local.port, endpoint, 2, stop.signal);
    await delay(500);
    assertEquals(endpoint.accepted, 2, "connections that reached the destination");
    const extra = await download(chain.local.port, endpoint, 16 * KiB);
    assertEquals(extra.total, 0, "the third connection got bytes");
    assertEquals(endpoint.accepted, 2, "the third connection was dialled");
    assert(
      /refused .*: the server has 2 connections open/.test(chain.remote.program.output),
      `no refusal logged:\n${chain.remote.program.output}`,
    );
    stop.abort();
    await Promise.all(held);
  } finally {
    stop.abort();
    await chain.stop();
    endpoint.close();
  }
});
