/**
 * The cost of one routing decision with 100,000 domain rules and a GEOIP rule: p50 and p99
 * per decision, the time to load and compile the rules and the GeoIP database, and the heap
 * each takes. Lookups only: names resolve from a table, nothing leaves the machine.
 *
 * ```sh
 * flock -o /work/bench.lock deno run -A --v8-flags=--expose-gc scripts/bench/rules_decision.ts [--rules N] [--decisions N] [--json]
 * ```
 *
 * `deno task bench --rules` (`rules_run.ts`) runs it in a process of its own with `--json`: one
 * {@linkcode DecisionReport} on stdout.
 */
import { parseArgs } from "node:util";
import { loadGeoIp, parseRulesFile, type Query, RuleEngine } from "../../lib/rules/mod.ts";
import { benchName as name, domainRuleLines } from "./rules_names.ts";

const { values } = parseArgs({
  options: {
    rules: { type: "string", default: "100000" },
    decisions: { type: "string", default: "200000" },
    json: { type: "boolean", default: false },
  },
});
const RULES = Number(values.rules);
const DECISIONS = Number(values.decisions);

const gc = (globalThis as { gc?: () => void }).gc;

/**
 * Memory in use after a full collection: the JS heap plus typed arrays' buffers (which live
 * outside it), and the process's resident set. Without --expose-gc: as it is.
 */
async function memory(): Promise<{ used: number; rss: number }> {
  await new Promise((resolve) => setTimeout(resolve, 100)); // let finished work be collected
  gc?.();
  gc?.();
  const { heapUsed, external, rss } = Deno.memoryUsage();
  return { used: heapUsed + external, rss };
}

/** Growth in bytes: heap + typed arrays' buffers, and the resident set. */
export interface Growth {
  used: number;
  rss: number;
}

/** The growth from `before` to now. */
async function grown(before: { used: number; rss: number }): Promise<Growth> {
  const now = await memory();
  return { used: now.used - before.used, rss: now.rss - before.rss };
}

/** A growth as two table cells. */
const cells = (g: Growth) => `${mib(g.used)} | ${mib(g.rss)}`;

/** p50 and p99 of one kind of decision, in µs. */
export interface DecisionSpread {
  kind: string;
  p50: number;
  p99: number;
}

/** What `--json` prints: the decisions' spread, and each load's time (ms) and growth. */
export interface DecisionReport {
  rules: number;
  decisions: number;
  geoRanges: number;
  geoBytes: number;
  spreads: DecisionSpread[];
  meanUs: number;
  geo: { ms: number } & Growth;
  rulesLoad: { ms: number } & Growth;
  ruleSet: { ms: number } & Growth;
  /** False when run without --expose-gc: the growths then include garbage. */
  collected: boolean;
}

const mib = (bytes: number) => `${(bytes / 1048576).toFixed(1)} MiB`;

// The GeoIP database on its own, first.
let before = await memory();
let started = performance.now();
const geo = await loadGeoIp();
const geoMs = performance.now() - started;
const geoHeap = await grown(before);

// The rules: 100,000 DOMAIN-SUFFIX, then private ranges and a country DIRECT, the rest PROXY.
const lines = ["rules:", ...domainRuleLines(RULES)];
lines.push("  - GEOIP,LAN,DIRECT", "  - GEOIP,CN,DIRECT", "  - MATCH,PROXY");
const text = lines.join("\n") + "\n";
before = await memory();
started = performance.now();
const engine = await RuleEngine.create(parseRulesFile(text, "bench"), new Map());
const rulesMs = performance.now() - started;
const rulesHeap = await grown(before);

// The same names as a mihomo rule-set (text, behavior domain), as suffix lists usually come.
const setText = Array.from({ length: RULES }, (_, i) => `+.${name(i)}`).join("\n");
const setFile = parseRulesFile(
  "rule-providers:\n  big: { type: file, behavior: domain, format: text, path: big.txt }\n" +
    "rules:\n  - RULE-SET,big,DIRECT\n  - GEOIP,CN,DIRECT\n  - MATCH,PROXY\n",
  "bench",
);
before = await memory();
started = performance.now();
const setEngine = await RuleEngine.create(setFile, new Map([["big", setText]]));
const setMs = performance.now() - started;
const setHeap = await grown(before);

// The connections: a name under a rule, a name under none (its address cached, so GEOIP runs
// on it), an address given by the app.
const table: Record<string, string[]> = {};
const queries: Query[] = [];
for (let i = 0; i < 1000; i++) {
  const miss = `host${i}.example${i % 7}.com`;
  table[miss] = [i % 2 ? "114.114.114.114" : "8.8.8.8"];
  queries.push(
    { host: `www.${name((i * 97) % RULES)}`, port: 443, network: "tcp" },
    { host: miss, port: 443, network: "tcp" },
    {
      ip: i % 2 ? `223.5.${i % 256}.5` : `2001:4860:4860::${i.toString(16)}`,
      port: 443,
      network: "tcp",
    },
  );
}
const resolve = (host: string) => Promise.resolve(table[host] ?? []);
for (const q of queries) await engine.decide(q, resolve); // resolves and caches each name once

// Each decision timed alone (the clock's own cost, measured, taken off), after a warm-up.
const kinds = ["name under a rule", "name under none (GEOIP)", "address (GEOIP)"];
const samples: number[][] = [[], [], []];
let clock = Infinity;
for (let i = 0; i < 10_000; i++) {
  const t = performance.now();
  clock = Math.min(clock, performance.now() - t);
}
for (let round = 0; round < 2; round++) {
  for (let i = 0; i < DECISIONS; i++) {
    const q = queries[i % queries.length]!;
    const t = performance.now();
    const d = engine.decide(q, resolve);
    const elapsed = performance.now() - t;
    if (d instanceof Promise) throw new Error("a cached decision went asynchronous");
    if (round === 1) samples[i % 3]!.push(Math.max(0, elapsed - clock) * 1000);
  }
}
// The same in a tight loop: the mean without the clock.
started = performance.now();
for (let i = 0; i < DECISIONS; i++) engine.decide(queries[i % queries.length]!, resolve);
const meanUs = ((performance.now() - started) * 1000) / DECISIONS;

const pct = (sorted: number[], p: number) =>
  sorted[Math.min(sorted.length - 1, Math.floor(sorted.length * p))] ?? NaN;
const spread = (kind: string, xs: number[]): DecisionSpread => {
  const s = [...xs].sort((a, b) => a - b);
  return { kind, p50: pct(s, 0.5), p99: pct(s, 0.99) };
};
const spreads = [...samples.map((xs, k) => spread(kinds[k]!, xs)), spread("all", samples.flat())];
if (setEngine.rules.length !== 3) throw new Error("the rule-set engine lost its rules");
if (values.json) {
  const report: DecisionReport = {
    rules: RULES,
    decisions: DECISIONS,
    geoRanges: geo.ranges,
    geoBytes: geo.byteLength,
    spreads,
    meanUs,
    geo: { ms: geoMs, ...geoHeap },
    rulesLoad: { ms: rulesMs, ...rulesHeap },
    ruleSet: { ms: setMs, ...setHeap },
    collected: gc !== undefined,
  };
  console.log(JSON.stringify(report));
  Deno.exit(0);
}
const row = (s: DecisionSpread) => `| ${s.kind} | ${s.p50.toFixed(2)} | ${s.p99.toFixed(2)} |`;

console.log(`Rules: ${RULES.toLocaleString("en")} DOMAIN-SUFFIX + GEOIP,LAN + GEOIP,CN + MATCH`);
console.log(`GeoIP: ${geo.ranges.toLocaleString("en")} ranges, tables ${mib(geo.byteLength)}`);
console.log("");
console.log("| decision | p50 µs | p99 µs |");
console.log("| --- | --- | --- |");
spreads.forEach((s) => console.log(row(s)));
console.log(`| mean in a loop, no clock | ${meanUs.toFixed(2)} | |`);
console.log("");
console.log("| what | load ms | heap + buffers | RSS |");
console.log("| --- | --- | --- | --- |");
console.log(`| GeoIP database (read, index) | ${geoMs.toFixed(0)} | ${cells(geoHeap)} |`);
console.log(
  `| ${RULES.toLocaleString("en")} rules in rules: (YAML, compile) | ${rulesMs.toFixed(0)} | ${
    cells(rulesHeap)
  } |`,
);
console.log(
  `| ${RULES.toLocaleString("en")} names in a text rule-set | ${setMs.toFixed(0)} | ${
    cells(setHeap)
  } |`,
);
if (!gc) console.log("(heap without --v8-flags=--expose-gc: garbage included)");
