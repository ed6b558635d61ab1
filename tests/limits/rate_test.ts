/**
 * Per-user download rate limits on the remote, through real processes: curl through a real
 * local, the limit set with the real `user set`, one connection against four sharing the same
 * bucket, and a change during downloads (uploads: `upload_rate_test.ts`).
 */
import { assert } from "../_assert.ts";
import { delay, startChain, startOrigin } from "../_harness.ts";
import {
  Counter,
  download,
  jain,
  KiB,
  MiB,
  rateOf,
  refill,
  startEndpoint,
  timedCurl,
} from "./_traffic.ts";

/** One remote and local for the whole file; each test sets alice's limits itself. */
let shared: ReturnType<typeof startChain> | undefined;
const sharedChain = () => shared ??= startChain();

Deno.test("a 1 MiB/s download limit holds for one connection and for four sharing it", async () => {
  const origin = startOrigin();
  const chain = await sharedChain();
  try {
    await chain.remote.user("set", "alice", "--down", "1MiB");
    await refill();
    const url = (n: number) => `http://127.0.0.1:${origin.port}/bytes/${n}`;
    const one = await timedCurl(chain.local.address, "-o", "/dev/null", url(5 * MiB));
    assert(
      one.seconds >= 4 && one.seconds <= 6.5,
      `5 MiB at 1 MiB/s (1 s burst) took ${one.seconds} s, expected 4–6.5`,
    );

    await refill();
    const started = performance.now();
    await Promise.all(
      Array.from(
        { length: 4 },
        () => timedCurl(chain.local.address, "-o", "/dev/null", url(1.25 * MiB)),
      ),
    );
    const together = (performance.now() - started) / 1000;
    assert(
      together >= 4 && together <= 6.5,
      `4 × 1.25 MiB at 1 MiB/s took ${together.toFixed(2)} s together, expected 4–6.5`,
    );
    assert(
      Math.abs(together - one.seconds) < 1,
      `four connections took ${together.toFixed(2)} s, one took ${one.seconds} s`,
    );
  } finally {
    await origin.close();
  }
});

Deno.test("user set during downloads changes their rate within a second; they share it fairly", async () => {
  const endpoint = startEndpoint();
  const chain = await sharedChain();
  const stop = new AbortController();
  try {
    await chain.remote.user("set", "alice", "--down", "256KiB");
    await refill();
    const counters = Array.from({ length: 4 }, () => new Counter());
    const transfers = counters.map((c) =>
      download(chain.local.port, endpoint, 64 * MiB, c, stop.signal)
    );
    const started = performance.now();
    await delay(4000);
    const slow = rateOf(counters, started + 1500, started + 4000);
    assert(
      slow > 200 * KiB && slow < 320 * KiB,
      `expected about 256 KiB/s before the change, got ${(slow / KiB).toFixed(0)} KiB/s`,
    );
    const shares = counters.map((c) => c.between(started + 1500, started + 4000));
    assert(jain(shares) > 0.9, `four connections shared unfairly: ${shares.join(", ")} bytes`);

    await chain.remote.user("set", "alice", "--down", "1MiB");
    const changed = performance.now();
    await delay(3000);
    const fast = rateOf(counters, changed + 1000, changed + 3000);
    assert(
      fast > 0.8 * MiB && fast < 1.25 * MiB,
      `expected about 1 MiB/s from 1 s after the change, got ${(fast / MiB).toFixed(2)} MiB/s`,
    );
    assert(counters.every((c) => c.ended === null), "a download stopped");
    stop.abort();
    await Promise.all(transfers);
  } finally {
    stop.abort();
    endpoint.close();
  }
});

Deno.test("the file's remote and local stop", async () => {
  await (await shared)?.stop();
});
