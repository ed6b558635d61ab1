/**
 * The remote's event loop never waits on SQLite's lock: while another process holds the write
 * lock, new tunnels open and answer at once (node:sqlite is synchronous, so a long busy wait
 * would freeze every relay of the server).
 */
import { DatabaseSync } from "node:sqlite";
import { assert } from "../_assert.ts";
import { curl, delay, startChain, startOrigin } from "../_harness.ts";

Deno.test("a write lock held by another process does not stall new tunnels", async () => {
  const origin = startOrigin();
  const chain = await startChain();
  const db = new DatabaseSync(`${chain.remote.dir}/users.db`);
  try {
    db.exec("BEGIN IMMEDIATE");
    const held = performance.now();
    const slowest: number[] = [];
    // For 3 s (six flushes of usage) the lock stays taken; each small request must stay quick.
    while (performance.now() - held < 3_000) {
      const started = performance.now();
      const got = await curl(
        "-x",
        `socks5h://${chain.local.address}`,
        "-o",
        "/dev/null",
        `http://127.0.0.1:${origin.port}/bytes/1000`,
      );
      assert(got.code === 0, got.stderr);
      slowest.push(performance.now() - started);
      await delay(100);
    }
    const worst = Math.max(...slowest);
    assert(worst < 1_000, `a request took ${Math.round(worst)} ms while the lock was held`);
  } finally {
    db.exec("COMMIT");
    db.close();
    await chain.stop();
    await origin.close();
  }
});
