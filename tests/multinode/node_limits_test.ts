/**
 * One user's limits across three real `serve --node` processes on one real PostgreSQL
 * database, a real local on each: the rate limit and the connection cap hold across them
 * together (membership, usage and the quota: `nodes_test.ts`).
 */
import { assert } from "../_assert.ts";
import { delay } from "../_harness.ts";
import { POSTGRES_MISSING } from "../_postgres.ts";
import { Counter, download, KiB, MiB, rateOf, startEndpoint } from "../limits/_traffic.ts";
import { nodesOnceForFile } from "./_nodes.ts";

const ignore = POSTGRES_MISSING !== undefined;

/** The nodes and a local on each, started once for the whole file. */
const nodes = nodesOnceForFile(3);

Deno.test({
  name: "max-conns 4 across two nodes refuses the fifth connection, on either node",
  ignore,
  async fn() {
    const { set, locals } = await nodes();
    const endpoint = startEndpoint();
    const stop = new AbortController();
    try {
      await set.user("set", "alice", "--max-conns", "4", "--down", "64KiB");
      await delay(1200);
      const open = [0, 0, 1, 1].map((i) =>
        download(locals[i]!.port, endpoint, 100 * MiB, new Counter(), stop.signal)
      );
      await delay(2000);
      for (const i of [0, 1]) {
        const fifth = await download(locals[i]!.port, endpoint, 1 * KiB);
        assert(fifth.cut && fifth.total === 0, `a fifth connection through node${i + 1} came in`);
      }
      stop.abort();
      const counters = await Promise.all(open);
      assert(counters.every((c) => c.total > 0), "the four connections moved data");
    } finally {
      stop.abort();
      await set.user("set", "alice", "--max-conns", "0", "--down", "0");
      await endpoint.close();
    }
  },
});

Deno.test({
  name: "a 2 MiB/s limit holds through three nodes together, and a lone node gets all of it",
  ignore,
  async fn() {
    // Last of the limits: as in nodes_test.ts before this file was split off, the nodes have
    // carried alice's traffic already (on nodes just started it failed under a loaded suite).
    const { set, locals } = await nodes();
    const endpoint = startEndpoint();
    const limit = 2 * MiB;
    const stops = locals.map(() => new AbortController());
    try {
      await set.user("set", "alice", "--down", "2MiB");
      await delay(1200);
      const counters = locals.map(() => new Counter());
      const transfers = locals.map((l, i) =>
        download(l.port, endpoint, 1000 * MiB, counters[i], stops[i]!.signal)
      );
      const start = performance.now();
      await delay(8000);
      // After the shares settle (2 s): every 5 s window within ±5% of the limit.
      for (const from of [2000, 2500, 3000]) {
        const rate = rateOf(counters, start + from, start + from + 5000);
        assert(
          Math.abs(rate - limit) <= limit * 0.05,
          `three nodes together moved ${(rate / MiB).toFixed(3)} MiB/s over [${from / 1000}, ${
            from / 1000 + 5
          }) s, the limit is 2 MiB/s`,
        );
      }
      stops[1]!.abort();
      stops[2]!.abort();
      const alone = performance.now();
      await delay(4000);
      // Within 2 s the lone node moves the whole limit (one-second windows from there on).
      for (const from of [2000, 3000]) {
        const rate = rateOf([counters[0]!], alone + from, alone + from + 1000);
        assert(
          rate >= limit * 0.9 && rate <= limit * 1.1,
          `the lone node moved ${(rate / MiB).toFixed(3)} MiB/s at ${from / 1000} s after the ` +
            "others stopped",
        );
      }
      stops[0]!.abort();
      await Promise.all(transfers);
    } finally {
      for (const stop of stops) stop.abort();
      await set.user("set", "alice", "--down", "0");
      await endpoint.close();
    }
  },
});

Deno.test({
  name: "the nodes and locals of this file stop",
  ignore,
  async fn() {
    const { set, locals } = await nodes();
    await Promise.all(locals.map((l) => l.stop()));
    await set.stop();
  },
});
