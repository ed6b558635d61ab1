/**
 * Random traffic of one user across nodes for `bench_multinode.ts`: bursts through one, two or
 * all three nodes at once, each burst sized to keep the user at its limit for a few seconds,
 * with idle gaps between them.
 */
import { type FarEnds, type Transfer, transfer, type TrojanNode } from "./trojan_transfer.ts";

/** A user as the traffic sees it: limits in bytes/s (0: none, so no traffic that way). */
export interface BenchUser {
  name: string;
  token: string;
  down: number;
  up: number;
}

/** A small seeded generator (mulberry32), so a run's traffic can be repeated. */
export function seededRandom(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const IDLE_MS = [500, 3000] as const;
const BURST_S = [3, 10] as const;

/**
 * Runs bursts for `user` until `untilMs` (performance.now), pushing every transfer into
 * `transfers` when it ends. A burst picks 1, 2 or 3 nodes (two in five bursts through one
 * node, two in five through all three), a length of a few seconds at the limit, and splits it
 * unevenly among the nodes, so their tunnels end at different times. A user with an up limit
 * uploads in half of its bursts too.
 */
export async function userTraffic(
  user: BenchUser,
  nodes: TrojanNode[],
  ends: FarEnds,
  untilMs: number,
  random: () => number,
  transfers: Transfer[],
): Promise<void> {
  const between = ([lo, hi]: readonly [number, number]) => lo + random() * (hi - lo);
  // The first burst starts within half a second, so a short run still has traffic.
  for (let burst = 0;; burst++) {
    await new Promise((r) => setTimeout(r, burst === 0 ? random() * IDLE_MS[0] : between(IDLE_MS)));
    const left = (untilMs - performance.now()) / 1000;
    if (left < 1) return;
    const pick = random();
    const count = Math.min(nodes.length, pick < 0.4 ? 1 : pick < 0.6 ? 2 : 3);
    const chosen = [...nodes].sort(() => random() - 0.5).slice(0, count);
    const seconds = Math.min(between(BURST_S), left);
    const directions: ("down" | "up")[] = ["down"];
    if (user.up > 0 && random() < 0.5) directions.push("up");
    const running: Promise<Transfer>[] = [];
    for (const direction of directions) {
      const limit = direction === "down" ? user.down : user.up;
      const weights = chosen.map(() => 0.5 + random());
      const sum = weights.reduce((a, b) => a + b, 0);
      chosen.forEach((node, i) => {
        const length = Math.max(1024, Math.round(limit * seconds * weights[i]! / sum));
        running.push(transfer(node, user.name, user.token, ends, direction, length));
      });
    }
    await Promise.all(running.map((done) => done.then((t) => transfers.push(t))));
  }
}
