/** The token bucket on its own: free when unlimited, FIFO turns, live rate changes, aborts. */
import { assert, assertEquals } from "../_assert.ts";
import { TokenBucket } from "../../lib/remote/users/token_bucket.ts";

Deno.test("an unlimited bucket never returns a promise and does not split", () => {
  const bucket = new TokenBucket(0);
  for (let i = 0; i < 1000; i++) assertEquals(bucket.take(64 * 1024), undefined);
  assertEquals(bucket.quantum, 0);
});

Deno.test("a full bucket lets one second's worth through at once, then makes callers wait", async () => {
  const bucket = new TokenBucket(100_000);
  assertEquals(bucket.take(60_000), undefined);
  assertEquals(bucket.take(40_000), undefined);
  const started = performance.now();
  const wait = bucket.take(20_000);
  assert(wait instanceof Promise, "the empty bucket did not make the caller wait");
  await wait;
  const ms = performance.now() - started;
  assert(ms >= 190 && ms < 600, `20 kB at 100 kB/s took ${ms.toFixed(0)} ms, expected ~200`);
});

Deno.test("waiters go in arrival order; an aborted waiter leaves the queue", async () => {
  const bucket = new TokenBucket(1_000_000);
  bucket.take(1_000_000);
  const order: string[] = [];
  const gone = new AbortController();
  const waits = [
    bucket.take(10_000)!.then(() => order.push("a")),
    bucket.take(10_000, gone.signal)!.then(() => order.push("aborted")),
    bucket.take(10_000)!.then(() => order.push("b")),
    bucket.take(10_000)!.then(() => order.push("c")),
  ];
  gone.abort();
  assertEquals(bucket.waiting, 3);
  await Promise.all(waits);
  assertEquals(order, ["aborted", "a", "b", "c"]);
});

Deno.test("a rate change applies to waiters at once; 0 lets them all through", async () => {
  const bucket = new TokenBucket(1000);
  bucket.take(1000);
  const slow = bucket.take(1000)!;
  const started = performance.now();
  bucket.rate = 2_000_000;
  assertEquals(bucket.quantum, 64 * 1024);
  await slow;
  assert(performance.now() - started < 100, "the faster rate did not apply to the waiter");
  bucket.take(2_000_000);
  const waits = [bucket.take(1_000_000)!, bucket.take(1_000_000)!];
  bucket.rate = 0;
  await Promise.all(waits);
  assertEquals(bucket.waiting, 0);
});

Deno.test("a bucket with no burst holds nothing: after idling, bytes pass at the rate", async () => {
  const bucket = new TokenBucket(100_000);
  bucket.burst = 0;
  await new Promise((r) => setTimeout(r, 50));
  // The first piece goes at once (into debt), the next waits for the debt to be repaid.
  assertEquals(bucket.take(10_000), undefined);
  const started = performance.now();
  await bucket.take(10_000);
  const waited = performance.now() - started;
  assert(waited >= 80, `the second piece waited ${waited.toFixed(0)} ms, not ~100`);
  bucket.burst = 1;
  await new Promise((r) => setTimeout(r, 300));
  assertEquals(bucket.take(20_000), undefined, "a burst of 1 s fills again");
});
