/**
 * Quota and expiry, set with the real `user set`: past either, open connections are closed
 * within a second and new ones refused; `reset-usage` and `--expires never` let the user in.
 */
import { assert, assertEquals } from "../_assert.ts";
import { delay } from "../_harness.ts";
import { startInProcessChain } from "../_inprocess.ts";
import { Counter, download, KiB, MiB, startEndpoint, userRow } from "./_traffic.ts";

Deno.test("over quota: the open download is cut at the quota, new ones refused until reset-usage", async () => {
  const endpoint = startEndpoint();
  const chain = await startInProcessChain();
  try {
    await chain.remote.user("set", "alice", "--quota", "3MiB");
    await delay(400);
    const cut = await download(chain.local.port, endpoint, 10 * MiB);
    assert(cut.cut, "the download went past the quota");
    assert(
      cut.total <= 3 * MiB + 256 * KiB,
      `${cut.total} bytes came through a 3 MiB quota`,
    );
    const refused = await download(chain.local.port, endpoint, 64 * KiB);
    assertEquals(refused.total, 0, "a new connection over quota got bytes");
    await delay(700);
    const row = await userRow(chain.remote, "alice");
    assert(row.bytesDown >= 3 * MiB, `user list shows ${row.bytesDown} bytes down`);
    assert(/closing 1 connection\(s\) of alice: over quota/.test(chain.remote.program.output));
    assert(/refused alice from .*: over quota/.test(chain.remote.program.output));

    await chain.remote.user("reset-usage", "alice");
    await delay(500);
    const again = await download(chain.local.port, endpoint, 1 * MiB);
    assert(!again.cut, `alice was not let in after reset-usage (${again.total} bytes)`);
  } finally {
    await chain.stop();
    endpoint.close();
  }
});

Deno.test("expiry: the open download is closed within a second of it, new ones refused", async () => {
  const endpoint = startEndpoint();
  const chain = await startInProcessChain();
  const stop = new AbortController();
  try {
    await chain.remote.user("set", "alice", "--down", "256KiB");
    const expires = Date.now() + 2500;
    await chain.remote.user("set", "alice", "--expires", new Date(expires).toISOString());
    await delay(300);
    const counter = new Counter();
    const transfer = download(chain.local.port, endpoint, 64 * MiB, counter, stop.signal);
    await transfer;
    assert(counter.cut, "the download was not closed");
    const late = Date.now() - expires;
    assert(late >= -100 && late < 1000, `closed ${late} ms after the expiry, expected 0–1000`);
    assert(/closing 1 connection\(s\) of alice: expired/.test(chain.remote.program.output));
    const refused = await download(chain.local.port, endpoint, 64 * KiB);
    assertEquals(refused.total, 0, "an expired user got bytes");

    await chain.remote.user("set", "alice", "--expires", "never");
    await delay(500);
    const again = await download(chain.local.port, endpoint, 64 * KiB);
    assert(!again.cut, `alice was not let in after --expires never (${again.total} bytes)`);
  } finally {
    stop.abort();
    await chain.stop();
    endpoint.close();
  }
});
