/**
 * `deno task bench:limits [--seconds N] [--only RATE/CONNS/DIRECTION] [--no-write]`: how closely the remote's per-user token
 * buckets hold their rate. For 256 KiB/s, 2 MiB/s and 20 MiB/s, with 1 and with 8 connections
 * of one user, download and upload, it runs a real remote and local on loopback, lets 2 s pass
 * (the bucket's one-second burst and socket buffers settle), then reads the achieved rate over
 * every 5 s window (sliding by 250 ms) at the receiving end, and Jain's fairness index of the
 * connections' shares in each window. Writes the table into docs/BENCHMARKS.md ("## Limits").
 */
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import { LocalFixture, RemoteFixture } from "../tests/_harness.ts";
import {
  Counter,
  download,
  jain,
  KiB,
  MiB,
  rateOf,
  startEndpoint,
  upload,
} from "../tests/limits/_traffic.ts";
import { markdownTable, textTable } from "./bench/report.ts";
import { writeSection } from "./bench/markdown_section.ts";
import { formatBytes, parseRate } from "../lib/common/ops/units.ts";

const ROOT = fileURLToPath(new URL("../", import.meta.url));
const HEADING = "## Limits";
const WARMUP_MS = 2000;
const WINDOW_MS = 5000;
const STEP_MS = 100;
const PASSWORD = "bench-limits-secret";

const { values: flags } = parseArgs({
  args: Deno.args,
  options: {
    seconds: { type: "string", default: "12" },
    "no-write": { type: "boolean", default: false },
    only: { type: "string" },
  },
});
/** `--only 20MiB/8/up` runs just the matching cells (any part may be `*`); implies --no-write. */
const only = flags.only?.split("/") ?? [];
const selected = (rate: number, conns: number, direction: string) =>
  [() => rate === parseRate(only[0]!), () => conns === Number(only[1]), () => direction === only[2]]
    .every((match, i) => (only[i] ?? "*") === "*" || match());
const measureMs = Number(flags.seconds) * 1000;
if (!(measureMs >= WINDOW_MS)) throw new Error(`--seconds must be at least ${WINDOW_MS / 1000}`);

interface Result {
  rate: number;
  conns: number;
  direction: "down" | "up";
  mean: number;
  worstLow: number;
  worstHigh: number;
  fairness: number;
}

/** Achieved rate and fairness of `counters` between `start` and `start + measureMs`. */
function measure(counters: Counter[], start: number, limit: number) {
  const errors: number[] = [];
  const fairness: number[] = [];
  for (let from = start; from + WINDOW_MS <= start + measureMs + 1; from += STEP_MS) {
    const to = from + WINDOW_MS;
    errors.push((rateOf(counters, from, to) / limit - 1) * 100);
    fairness.push(jain(counters.map((c) => c.between(from, to))));
  }
  return {
    mean: (rateOf(counters, start, start + measureMs) / limit - 1) * 100,
    worstLow: Math.min(...errors),
    worstHigh: Math.max(...errors),
    fairness: Math.min(...fairness),
  };
}

async function run(
  remote: RemoteFixture,
  local: LocalFixture,
  endpoint: ReturnType<typeof startEndpoint>,
  rate: number,
  conns: number,
  direction: "down" | "up",
): Promise<Result> {
  await remote.user("set", "bench", "--down", String(rate), "--up", String(rate));
  // The server picks the change up within 0.25 s; then the bucket's burst is spent in warm-up.
  await new Promise((r) => setTimeout(r, 600));
  const stop = new AbortController();
  const length = Math.ceil(rate * (WARMUP_MS + measureMs + 30_000) / 1000);
  const before = endpoint.uploads.length;
  const counters = Array.from({ length: conns }, () => new Counter());
  const transfers = counters.map((counter) =>
    direction === "down"
      ? download(local.port, endpoint, length, counter, stop.signal)
      : upload(local.port, endpoint, length, stop.signal)
  );
  const started = performance.now();
  await new Promise((r) => setTimeout(r, WARMUP_MS + measureMs + 100));
  stop.abort();
  await Promise.all(transfers);
  endpoint.closeConnections();
  const measured = direction === "down" ? counters : endpoint.uploads.slice(before);
  if (measured.length !== conns) {
    throw new Error(`expected ${conns} transfers to arrive, saw ${measured.length}`);
  }
  const result = { rate, conns, direction, ...measure(measured, started + WARMUP_MS, rate) };
  // Let the closed tunnels end before the next run shares the bucket.
  await new Promise((r) => setTimeout(r, 1000));
  return result;
}

function pct(value: number): string {
  return `${value >= 0 ? "+" : ""}${value.toFixed(1)}%`;
}

function table(results: Result[]): string[][] {
  return [
    ["limit", "conns", "direction", "mean error", "worst 5 s window", "min fairness (Jain)"],
    ...results.map((r) => [
      `${formatBytes(r.rate)}/s`,
      String(r.conns),
      r.direction,
      pct(r.mean),
      `${pct(r.worstLow)} … ${pct(r.worstHigh)}`,
      r.conns === 1 ? "–" : r.fairness.toFixed(3),
    ]),
  ];
}

const remote = await RemoteFixture.start({ bench: PASSWORD }, ["--log-level", "warning"]);
const local = await LocalFixture.start(remote, "bench", PASSWORD, ["--log-level", "warning"]);
const endpoint = startEndpoint();
const results: Result[] = [];
try {
  for (const rate of [256 * KiB, 2 * MiB, 20 * MiB]) {
    for (const conns of [1, 8]) {
      for (const direction of ["down", "up"] as const) {
        if (!selected(rate, conns, direction)) continue;
        const result = await run(remote, local, endpoint, rate, conns, direction);
        results.push(result);
        console.log(textTable(table([result])).split("\n")[1]);
      }
    }
  }
} finally {
  endpoint.close();
  await local.stop();
  await remote.stop();
}

const cells = table(results);
console.log(`\n${textTable(cells)}`);
const load = Deno.loadavg().map((n) => n.toFixed(2)).join(" ");
const misses = results.filter((r) =>
  Math.max(-r.worstLow, r.worstHigh) > 5 || (r.conns > 1 && r.fairness < 0.95)
);
console.log(`load average at the end: ${load}; ${misses.length} of ${results.length} off target`);

if (!flags["no-write"] && only.length === 0) {
  const seconds = (WARMUP_MS + measureMs) / 1000;
  const section = `${HEADING}

\`deno task bench:limits\` (scripts/bench_limits.ts): one user of a real remote and local on
loopback, its limits set with \`user set\`; 1 or 8 connections of that user transfer for
${seconds} s. The first ${WARMUP_MS / 1000} s are skipped (they hold the bucket's one-second burst);
then the rate is read at the receiving end over every 5 s window, sliding by ${STEP_MS} ms.
Error = achieved / limit − 1, target ±5%. Fairness = Jain's index of the connections' bytes in
each window (the lowest window shown), target ≥ 0.95.

${markdownTable(cells)}

${
    misses.length === 0
      ? "All on target."
      : `Off target in this run: ${
        misses.map((r) => `${formatBytes(r.rate)}/s × ${r.conns} ${r.direction}`).join(", ")
      }.`
  }
Measured ${new Date().toISOString().slice(0, 10)} on ${Deno.build.os}/${Deno.build.arch}, Deno \
${Deno.version.deno}, ${navigator.hardwareConcurrency} cores shared with other work (load average
${load} at the end).
`;
  await writeSection(`${ROOT}docs/BENCHMARKS.md`, HEADING, section);
  console.log("wrote docs/BENCHMARKS.md");
}
