import { assertEquals } from "../_assert.ts";
import { Counter } from "../limits/_traffic.ts";
import { sharedLimitAccuracy } from "../../scripts/bench/shared_limit_accuracy.ts";
import type { Transfer } from "../../scripts/bench/trojan_transfer.ts";

/** A transfer through `node` that moved `rate` bytes/s evenly from `start` to `end` (ms). */
function steady(node: string, start: number, end: number, rate: number): Transfer {
  const counter = new Counter();
  counter.started = start;
  for (let t = start + 100; t <= end; t += 100) {
    counter.times.push(t);
    counter.totals.push(counter.total += rate / 10);
  }
  counter.ended = end;
  return { user: "u", node, direction: "down", length: 0, counter, sent: 0, received: 0, ok: true };
}

Deno.test("accuracy counts whole windows from 2 s into a busy span, across nodes", () => {
  // Two nodes at 600 and 500 B/s for 10 s: 10% over a 1000 B/s limit; a third node joins at 4 s.
  const accuracy = sharedLimitAccuracy([
    steady("a", 0, 10_000, 600),
    steady("b", 0, 10_000, 500),
    steady("c", 4_000, 6_000, 0),
  ], 1000);
  assertEquals(accuracy.windows, 4);
  assertEquals(Math.round(accuracy.error * 1000), 100);
  // The windows at 2–4 s and 8–10 s saw no tunnel open or close in them or the 2 s before.
  assertEquals(accuracy.steadyWindows, 2);
  assertEquals(accuracy.starts.map((s) => [s.nodes, Math.round(s.moved)]), [[2, 2200]]);
});

Deno.test("accuracy has no window for a span shorter than the settle time and a window", () => {
  const accuracy = sharedLimitAccuracy([steady("a", 0, 3_500, 1000)], 1000);
  assertEquals(accuracy.windows, 0);
  assertEquals(accuracy.starts.length, 1);
});
