/**
 * Backpressure through real processes: bytes the remote cannot pass on yet (a throttled user, a
 * client that stops reading) stay in the sender's TCP buffers, not in the proxies' memory.
 */
import { assert } from "../_assert.ts";
import { delay, startChain } from "../_harness.ts";
import { rssMiB } from "../hardening/_helpers.ts";
import { command, DOWNLOAD, MiB, socksConnect, startEndpoint, upload } from "./_traffic.ts";
import { writeAll } from "../../lib/common/net/conn_io.ts";

/** Highest RSS growth (MiB) of the two `pids` over `ms`, sampled every 100 ms. */
async function growthDuring(pids: [number, number], ms: number): Promise<[number, number]> {
  const before = pids.map(rssMiB);
  const peak = [...before];
  const sampler = setInterval(() => {
    pids.forEach((pid, i) => peak[i] = Math.max(peak[i]!, rssMiB(pid)));
  }, 100);
  await delay(ms);
  clearInterval(sampler);
  return [peak[0]! - before[0]!, peak[1]! - before[1]!];
}

Deno.test("uploads faster than the user's limit wait in TCP, not in the remote's memory", async () => {
  const endpoint = startEndpoint();
  const chain = await startChain();
  const stop = new AbortController();
  try {
    await chain.remote.user("set", "alice", "--up", "1MiB");
    await delay(1100);
    const uploads = Array.from(
      { length: 4 },
      () => upload(chain.local.port, endpoint, 4096 * MiB, stop.signal),
    );
    const [remote, local] = await growthDuring(
      [chain.remote.program.child.pid, chain.local.program.child.pid],
      4000,
    );
    const arrived = endpoint.uploads.reduce((sum, c) => sum + c.total, 0);
    stop.abort();
    await Promise.all(uploads);
    // What the clients sent before they hung up is still owed to the destination: let it drain.
    await chain.remote.user("set", "alice", "--up", "0");
    assert(arrived <= 7 * MiB, `${(arrived / MiB).toFixed(1)} MiB passed a 1 MiB/s limit in 4 s`);
    assert(remote < 150, `the remote grew by ${remote.toFixed(0)} MiB holding back uploads`);
    assert(local < 150, `the local grew by ${local.toFixed(0)} MiB holding back uploads`);
  } finally {
    stop.abort();
    await chain.stop();
    endpoint.close();
  }
});

Deno.test("a client that stops reading holds the download back at the destination", async () => {
  const endpoint = startEndpoint();
  const chain = await startChain();
  const conn = await socksConnect(chain.local.port, endpoint.port);
  try {
    await writeAll(conn, command(DOWNLOAD, 4096 * MiB));
    const [remote, local] = await growthDuring(
      [chain.remote.program.child.pid, chain.local.program.child.pid],
      3000,
    );
    assert(remote < 150, `the remote grew by ${remote.toFixed(0)} MiB for a client not reading`);
    assert(local < 150, `the local grew by ${local.toFixed(0)} MiB for a client not reading`);
    const buffer = new Uint8Array(64 * 1024);
    assert((await conn.read(buffer) ?? 0) > 0, "the download did not go on once read");
  } finally {
    conn.close();
    await chain.stop();
    endpoint.close();
  }
});
