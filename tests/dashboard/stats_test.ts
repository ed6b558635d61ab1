/**
 * The rates the dashboard shows: one value per second of the clock, steady for a steady
 * transfer whatever the timer and the byte counting do, and 0 soon after the traffic stops.
 */
import { assert, assertEquals } from "../_assert.ts";
import { ConnectionTable } from "../../lib/local/inbound/connections.ts";
import { StatsSampler } from "../../lib/local/dashboard/stats.ts";

const MiB = 1024 ** 2;

Deno.test("rates: one value per whole second of the clock, whenever the timer fires", () => {
  const table = new ConnectionTable();
  const start = 1_700_000_000_750; // three quarters into a second
  const sampler = new StatsSampler(table, 60, start);
  assertEquals(sampler.sample(start + 200), false, "the first second has not ended");
  table.totalDown += 1000;
  assertEquals(sampler.sample(start + 260), true, "the clock's second ended at +250 ms");
  assertEquals(sampler.sample(start + 900), false);
  assertEquals(sampler.sample(start + 1240), false, "still inside the second second");
  assertEquals(sampler.sample(start + 1250), true);
  // A timer 3.2 s late closes the three seconds it slept through.
  const before = sampler.history.down.length;
  assertEquals(sampler.sample(start + 4450), true);
  assertEquals(sampler.history.down.length, before, "the history keeps its 60 values");
  assertEquals(sampler.history.down.at(-1), sampler.rate.down);
});

Deno.test("rates: a steady 20 MiB/s counted in uneven bursts, read by a jittery timer, reads 20 MiB/s ±20 %", () => {
  const table = new ConnectionTable();
  const start = 1_700_000_000_370;
  const sampler = new StatsSampler(table, 60, start);
  // Bytes arrive in bursts (a relay's reads after a stall, TCP windows) of uneven size and
  // spacing; the dashboard's timer fires late now and then, twice in a row at times. These
  // are the conditions that made the old per-timer rate read 2.6 then 28 MiB/s.
  const bursts: [at: number, bytes: number][] = [];
  let at = 0;
  for (let i = 0; at < 12_000; i++) {
    const gap = [130, 410, 90, 700, 250, 60, 520][i % 7]!;
    at += gap;
    bursts.push([at, 20 * MiB * gap / 1000]);
  }
  const ticks = [];
  for (let t = 0, i = 0; t < 12_000; i++) {
    t += [250, 260, 240, 5, 900, 250, 250, 30, 470][i % 9]!;
    ticks.push(t);
  }
  const rates: number[] = [];
  let next = 0;
  for (const tick of ticks) {
    while (next < bursts.length && bursts[next]![0] <= tick) table.totalDown += bursts[next++]![1];
    if (sampler.sample(start + tick)) rates.push(sampler.rate.down);
  }
  const settled = rates.slice(3, -1);
  assert(settled.length >= 7, `only ${rates.length} seconds`);
  for (const rate of settled) {
    assert(
      Math.abs(rate / (20 * MiB) - 1) <= 0.2,
      `rates ${rates.map((r) => (r / MiB).toFixed(1)).join(", ")} MiB/s`,
    );
  }

  // Three whole seconds after the traffic stops the rate is exactly 0, not a long tail.
  const end = start + 12_000;
  for (let s = 1; s <= 4; s++) sampler.sample(end + s * 1000);
  assertEquals(sampler.rate.down, 0);
});
