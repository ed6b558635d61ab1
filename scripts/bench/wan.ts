/**
 * The WAN rows: each contender's two halves with a delay relay between them
 * (`delay_relay.ts`, its own process), and the time from a client's connect to the first byte
 * from the destination: one connection at a time, and bursts of 8 and 24 at once.
 */
import { firstByte, percentile } from "./load.ts";
import type { Route } from "./load.ts";
import { startScript } from "./peers.ts";
import type { Link } from "./peers.ts";

/** A running delay relay process. */
export interface Relay {
  port: number;
  stop(): Promise<void>;
}

/**
 * Starts `delay_relay.ts` in front of 127.0.0.1:`to`, `rttMs` round trip, and `lossPercent` %
 * emulated loss (see there).
 */
export async function startRelay(to: number, rttMs: number, lossPercent = 0): Promise<Relay> {
  const { port, process } = await startScript("delay_relay.ts", [
    "--to",
    String(to),
    "--rtt",
    String(rttMs),
    "--loss",
    String(lossPercent),
  ]);
  return {
    port,
    async stop() {
      process.kill("SIGTERM");
      await process.status;
    },
  };
}

/** A {@linkcode Link} that starts relays and remembers them, to stop them all at the end. */
export function relays(rttMs: number, lossPercent = 0): { link: Link; stop(): Promise<void> } {
  const started: Relay[] = [];
  return {
    async link(port) {
      const relay = await startRelay(port, rttMs, lossPercent);
      started.push(relay);
      return relay.port;
    },
    async stop() {
      for (const relay of started.splice(0)) await relay.stop();
    },
  };
}

/** p50 and p90 of a set of times. */
export interface Spread {
  p50: number;
  p90: number;
}

function spread(times: number[]): Spread {
  const sorted = times.toSorted((a, b) => a - b);
  return { p50: percentile(sorted, 50), p90: percentile(sorted, 90) };
}

/** What the WAN rows show for one contender. */
export interface WanRow {
  name: string;
  one: Spread;
  burst8: Spread;
  burst24: Spread;
}

/** How many of each: connections one at a time, rounds of 8 and of 24. */
export interface WanSizes {
  one: number;
  rounds8: number;
  rounds24: number;
}

const pause = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** `rounds` bursts of `size` connections at once, a second apart; every connection's time. */
async function bursts(route: Route, size: number, rounds: number): Promise<number[]> {
  const times: number[] = [];
  for (let round = 0; round < rounds; round++) {
    times.push(...await Promise.all(Array.from({ length: size }, () => firstByte(route))));
    await pause(1000);
  }
  return times;
}

/**
 * Measures one contender over its relay. A warm-up burst of 24 and a few single connections
 * come first and are not counted (JIT, session caches, and what a proxy in use has learnt).
 */
export async function measureWan(
  name: string,
  route: Route,
  sizes: WanSizes,
): Promise<WanRow> {
  await bursts(route, 24, 1);
  for (let i = 0; i < 3; i++) await firstByte(route);
  const one: number[] = [];
  for (let i = 0; i < sizes.one; i++) {
    one.push(await firstByte(route));
    await pause(100);
  }
  const burst8 = await bursts(route, 8, sizes.rounds8);
  const burst24 = await bursts(route, 24, sizes.rounds24);
  return { name, one: spread(one), burst8: spread(burst8), burst24: spread(burst24) };
}

/** The WAN table as cells: ms, RTTs, and the ratio to trojan of the p50s. */
export function wanCells(rows: WanRow[], rttMs: number): string[][] {
  const base = rows.find((row) => row.name === "trojan");
  const header = [
    "",
    "one at a time p50",
    "p90",
    "burst of 8 p50",
    "p90",
    "burst of 24 p50",
    "p90",
  ];
  const cell = (value: number, baseValue: number | undefined, isBase: boolean) => {
    const rtts = `${(value / rttMs).toFixed(2)} RTT`;
    const ratio = isBase || !baseValue ? "" : `, ${(value / baseValue).toFixed(2)}×`;
    return `${value.toFixed(0)} ms (${rtts}${ratio})`;
  };
  const plain = (value: number) => `${value.toFixed(0)}`;
  return [
    header,
    ...rows.map((row) => {
      const isBase = row === base;
      return [
        row.name,
        cell(row.one.p50, base?.one.p50, isBase),
        plain(row.one.p90),
        cell(row.burst8.p50, base?.burst8.p50, isBase),
        plain(row.burst8.p90),
        cell(row.burst24.p50, base?.burst24.p50, isBase),
        plain(row.burst24.p90),
      ];
    }),
  ];
}
