/** How the ready-tunnel pool sizes itself: `Demand`, with the time passed in. */
import { assert, assertEquals } from "../_assert.ts";
import {
  Demand,
  MAX_READY,
  POOL_DEFAULTS,
  PRE_LOGIN_BUDGET,
  ReadyPool,
  REFILL_DELAY_MS,
} from "../../lib/local/tunnel/tunnel_pool.ts";
import type { Peer } from "../../lib/common/net/peer.ts";
import { PRE_LOGIN_PER_SOURCE } from "../../lib/common/net/handshake_gate.ts";

const options = { ...POOL_DEFAULTS, max: 32 };

/** `count` takes `spacingMs` apart from `start`; returns the time of the last. */
function takes(demand: Demand, count: number, start: number, spacingMs: number): number {
  for (let i = 0; i < count; i++) demand.took(start + i * spacingMs);
  return start + (count - 1) * spacingMs;
}

Deno.test("pool: nothing ready before the first client, the floor after one", () => {
  const demand = new Demand(options);
  assertEquals(demand.target(0), 0);
  demand.took(1000);
  assertEquals(demand.target(1001), POOL_DEFAULTS.floor);
});

Deno.test("pool: a burst of 24 keeps a quarter more ready, then the claim halves every half-life", () => {
  const demand = new Demand(options);
  const end = takes(demand, 24, 1000, 2);
  assertEquals(demand.target(end), 30);
  assertEquals(demand.target(end + POOL_DEFAULTS.halfLifeMs), 15);
  assertEquals(demand.target(end + 1.5 * POOL_DEFAULTS.halfLifeMs), 11);
  assertEquals(demand.target(end + POOL_DEFAULTS.idleMs), 0, "a minute without use: none");
});

Deno.test("pool: clients one after another keep only the floor", () => {
  const demand = new Demand(options);
  const end = takes(demand, 50, 0, demand.burstWindowMs + 1);
  assertEquals(demand.target(end), POOL_DEFAULTS.floor);
});

Deno.test("pool: never more than --preconnect, nor more than 32", () => {
  const small = new Demand({ ...options, max: 2 });
  assertEquals(small.target(takes(small, 24, 0, 1)), 2, "--preconnect 2");
  const big = new Demand({ ...options, max: 100 });
  assertEquals(big.target(takes(big, 100, 0, 0)), 100, "Demand itself only caps at max");
  assertEquals(MAX_READY, 32, "the pool caps max at 32");
  const off = new Demand({ ...options, max: 0 });
  off.took(0);
  assertEquals(off.target(1), 0, "--preconnect 0");
});

Deno.test("pool: a bigger burst replaces the remembered one, a smaller one does not", () => {
  const demand = new Demand(options);
  takes(demand, 8, 0, 1);
  assertEquals(demand.target(10), 10);
  takes(demand, 20, 5000, 1);
  assertEquals(demand.target(5020), 25);
  takes(demand, 4, 6000, 1);
  assert(demand.target(6004) >= 24, "a small burst after a big one keeps the big one's claim");
});

Deno.test("pool: slower dials widen the burst window", () => {
  const demand = new Demand(options);
  const before = demand.burstWindowMs;
  for (let i = 0; i < 20; i++) demand.dialed(400);
  assert(demand.burstWindowMs > before, `${demand.burstWindowMs} <= ${before}`);
  assert(demand.burstWindowMs <= 2000);
});

Deno.test("pool: a full pool stays within its pre-login budget, under the remote's cap", () => {
  assert(MAX_READY < PRE_LOGIN_BUDGET, `${MAX_READY} >= ${PRE_LOGIN_BUDGET}`);
  assert(PRE_LOGIN_BUDGET < PRE_LOGIN_PER_SOURCE, `${PRE_LOGIN_BUDGET} >= ${PRE_LOGIN_PER_SOURCE}`);
});

Deno.test("pool: a burst's takes refill once, after their own writes, not between them", async () => {
  let dials = 0;
  // A tunnel the remote keeps open: its read-ahead never ends.
  const tunnel = { close() {}, readAhead: () => new Promise<null>(() => {}) } as unknown as Peer;
  const pool = new ReadyPool(() => {
    dials++;
    return Promise.resolve(tunnel);
  }, options);
  try {
    for (let i = 0; i < 8; i++) assertEquals(pool.take(), undefined);
    assertEquals(dials, 0, "no dial runs inside a take");
    await new Promise((r) => setTimeout(r, REFILL_DELAY_MS + 50));
    // One refill for the burst of 8: a quarter more than it took.
    assertEquals(dials, 10);
    assertEquals(pool.ready, 10);
  } finally {
    pool.close();
  }
});

Deno.test("pool: a minute without a client keeps no ready tunnel and opens none, counted", async () => {
  let clock = 0;
  let live = 0;
  const pool = new ReadyPool(
    () => {
      live++;
      // A tunnel the remote keeps open until the pool closes it.
      return Promise.resolve(
        { close: () => live--, readAhead: () => new Promise(() => {}) } as unknown as Peer,
      );
    },
    options,
    () => clock,
  );
  const settle = () => new Promise((r) => setTimeout(r, 0));
  try {
    assertEquals(pool.take(), undefined, "one client, with nothing ready yet");
    await new Promise((r) => setTimeout(r, REFILL_DELAY_MS + 20));
    assertEquals(pool.ready, POOL_DEFAULTS.floor, "the floor after one client");
    let atIdle = -1;
    for (clock = 1000; clock <= 3 * 60_000; clock += 1000) {
      pool.age();
      await settle();
      if (clock === POOL_DEFAULTS.idleMs) atIdle = pool.opened;
    }
    console.log(
      `one client, then 3 minutes idle: ${pool.opened} tunnels opened ahead, all in the ` +
        `first minute; ${pool.expired} closed unused; ${pool.ready} ready after`,
    );
    assertEquals(pool.ready, 0, "none ready a minute after the last client");
    assertEquals(live, 0, "every tunnel opened ahead is closed");
    assertEquals(pool.opened, atIdle, "none opened after the idle minute");
    assertEquals(pool.expired, pool.opened, "each one counted as closed unused");
  } finally {
    pool.close();
  }
});
