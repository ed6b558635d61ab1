/**
 * `deno task bench --rules`: what routing rules cost, in one table. A decision with 100,000
 * domain rules plus GeoIP (`rules_decision.ts`, a process of its own), the memory the rules and
 * the GeoIP database take, the local's start-up without and with them (`rules_startup.ts`), and
 * the WAN page load (`page_load.ts` over `delay_relay.ts`) with half of the page's hosts sent
 * `DIRECT` by a rules file against all of them through the server. Writes its own section of
 * docs/BENCHMARKS.md.
 */
import { fileURLToPath } from "node:url";
import { HOSTS, pageLoads, startPageServer, SUBRESOURCES } from "./page_load.ts";
import type { PageLoads } from "./page_load.ts";
import { startSwiftProxy } from "./peers.ts";
import type { Contender } from "./peers.ts";
import { relays } from "./wan.ts";
import { markdownTable, textTable } from "./report.ts";
import { writeSection } from "./markdown_section.ts";
import { domainRuleLines } from "./rules_names.ts";
import { startupCases, startupCosts } from "./rules_startup.ts";
import type { StartupCost } from "./rules_startup.ts";
import type { DecisionReport } from "./rules_decision.ts";

/** What {@linkcode runRules} needs from the command line. */
export interface RulesOptions {
  /** Scratch directory for the rules files and the contenders' files. */
  dir: string;
  /** Domain rules in every rules file (100,000 unless told). */
  rules: number;
  rttMs: number;
  quick: boolean;
  /** Cold page loads per row, when not the default (10, or 3 when quick); 0: no page loads. */
  loads?: number;
  /** Starts of the local per start-up row, when not the default (5, or 3 when quick). */
  starts?: number;
  /** docs/BENCHMARKS.md, or nothing to write. */
  write?: string;
}

/** The heading of this section in docs/BENCHMARKS.md. */
export const RULES_SECTION = "## Routing rules: a decision, memory, start-up, a page half direct";

/** The decision p50 the issue asks for, in µs. */
const TARGET_P50_US = 5;

/** The page's hosts sent DIRECT: the second half, so the page itself comes through the server. */
const DIRECT_HOSTS = HOSTS.slice(HOSTS.length / 2);

const ROOT = fileURLToPath(new URL("../../", import.meta.url));

/** Runs `rules_decision.ts --json` in a fresh process with a collectable heap. */
async function decisions(rules: number, count: number): Promise<DecisionReport> {
  const out = await new Deno.Command(Deno.execPath(), {
    args: [
      "run",
      "-q",
      "-P=bench",
      "--v8-flags=--expose-gc",
      `${ROOT}scripts/bench/rules_decision.ts`,
      "--json",
      "--rules",
      String(rules),
      "--decisions",
      String(count),
    ],
    stdin: "null",
    stderr: "inherit",
  }).output();
  if (!out.success) throw new Error("rules_decision.ts failed");
  return JSON.parse(new TextDecoder().decode(out.stdout));
}

/** The rules file of the half-direct page: the domain rules, then the direct hosts' addresses. */
async function halfDirectRules(dir: string, rules: number): Promise<string> {
  const file = `${dir}/half-direct.yaml`;
  const lines = [
    "rules:",
    ...domainRuleLines(rules),
    ...DIRECT_HOSTS.map((host) => `  - IP-CIDR,${host}/32,DIRECT`),
    "  - MATCH,PROXY",
  ];
  await Deno.writeTextFile(file, lines.join("\n") + "\n");
  return file;
}

/** The page-load rows: no proxy; SwiftProxy all through the server; half of the hosts direct. */
async function pageRows(options: RulesOptions, loads: number): Promise<PageLoads[]> {
  const rules = await halfDirectRules(options.dir, options.rules);
  const rows: [string, ((link: ReturnType<typeof relays>) => Promise<Contender>) | null][] = [
    ["no proxy, no link", null],
    [
      "SwiftProxy, all through the server",
      (link) => startSwiftProxy(options.dir, [], link.link),
    ],
    [
      `SwiftProxy, ${DIRECT_HOSTS.length} of ${HOSTS.length} hosts DIRECT`,
      (link) =>
        startSwiftProxy(options.dir, [], link.link, ["--rules", rules], "SwiftProxy, half direct"),
    ],
  ];
  const pages = startPageServer();
  const results: PageLoads[] = [];
  try {
    for (const [name, start] of rows) {
      console.error(`page loads: ${name}…`);
      const link = relays(options.rttMs);
      const contender = start ? await start(link) : undefined;
      try {
        results.push(await pageLoads(name, pages.url, contender?.socksPort, loads));
      } finally {
        await contender?.stop();
        await link.stop();
      }
    }
  } finally {
    await pages.close();
  }
  return results;
}

const mib = (bytes: number) => `${(bytes / 1048576).toFixed(1)} MiB`;
const signed = (value: number, text: string) => `${value < 0 ? "−" : "+"}${text}`;
const us = (value: number) => `${value.toFixed(2)} µs`;

/** The one table: decisions, memory, start-up, page loads. */
function rulesCells(
  decision: DecisionReport,
  startup: StartupCost[],
  pages: PageLoads[],
  rttMs: number,
): string[][] {
  const n = decision.rules.toLocaleString("en");
  const rows: string[][] = [["", "time", "memory"]];
  for (const s of decision.spreads) {
    const label = s.kind === "all" ? "all three kinds" : s.kind;
    rows.push([`decision: ${label}`, `p50 ${us(s.p50)}, p99 ${us(s.p99)}`, ""]);
  }
  const grown = (g: { used: number; rss: number }) =>
    `heap + buffers ${signed(g.used, mib(Math.abs(g.used)))}, RSS ${
      signed(g.rss, mib(Math.abs(g.rss)))
    }`;
  rows.push([
    `load: ${n} DOMAIN-SUFFIX rules (YAML, compile)`,
    `${decision.rulesLoad.ms.toFixed(0)} ms`,
    grown(decision.rulesLoad),
  ]);
  rows.push([
    `load: the same ${n} names as a text rule-set (\`+.name\` lines)`,
    `${decision.ruleSet.ms.toFixed(0)} ms`,
    grown(decision.ruleSet),
  ]);
  rows.push([
    `load: GeoIP database (${decision.geoRanges.toLocaleString("en")} ranges)`,
    `${decision.geo.ms.toFixed(0)} ms`,
    `${grown(decision.geo)} (tables ${mib(decision.geoBytes)})`,
  ]);
  const base = startup[0];
  for (const s of startup) {
    const extra = base && s !== base
      ? [
        ` (${signed(s.ms - base.ms, `${Math.abs(s.ms - base.ms).toFixed(0)} ms`)})`,
        ` (${signed(s.rss - base.rss, mib(Math.abs(s.rss - base.rss)))})`,
      ]
      : ["", ""];
    rows.push([
      `local start-up: ${s.label}`,
      `${s.ms.toFixed(0)} ms${extra[0]}`,
      `RSS ${mib(s.rss)}${extra[1]}`,
    ]);
  }
  const through = pages.find((p) => p.name.includes("all through"));
  for (const p of pages) {
    const ratio = through && p !== through ? `, ${(p.p50 / through.p50).toFixed(2)}×` : "";
    rows.push([
      `page load: ${p.name}`,
      `${p.p50.toFixed(0)} ms (${(p.p50 / rttMs).toFixed(1)} RTT${ratio})`,
      `every load: ${p.times.map((t) => t.toFixed(0)).join(", ")}`,
    ]);
  }
  return rows;
}

/** Measures everything, prints the table and writes the section. */
export async function runRules(options: RulesOptions): Promise<void> {
  const started = new Date();
  const loadAtStart = Deno.loadavg();
  const loads = options.loads ?? (options.quick ? 3 : 10);
  const runs = options.starts ?? (options.quick ? 3 : 5);
  const count = options.quick ? 50_000 : 200_000;
  console.error(`decisions: ${count} with ${options.rules} domain rules + GeoIP…`);
  const decision = await decisions(options.rules, count);
  console.error(`local start-up: ${runs} starts of each…`);
  const startup = await startupCosts(
    options.dir,
    await startupCases(options.dir, options.rules),
    runs,
  );
  const pages = loads > 0 ? await pageRows(options, loads) : [];
  const loadAtEnd = Deno.loadavg();
  const table = rulesCells(decision, startup, pages, options.rttMs);
  console.log(textTable(table));
  const all = decision.spreads.find((s) => s.kind === "all");
  const met = all !== undefined && all.p50 <= TARGET_P50_US;
  const verdict = `Target ≤ ${TARGET_P50_US} µs p50 per decision: ${met ? "met" : "not met"} (${
    all ? us(all.p50) : "?"
  } over all three kinds).`;
  console.log(verdict);
  if (!options.write) return;
  const text = rulesSection(table, verdict, options, {
    started,
    load: [loadAtStart, loadAtEnd],
    loads,
    runs,
    count,
    collected: decision.collected,
  });
  await writeSection(options.write, RULES_SECTION, text);
  console.error(`wrote ${RULES_SECTION.slice(3)} in docs/BENCHMARKS.md`);
}

/** How the run went: when, the load average, the sizes. */
interface RunFacts {
  started: Date;
  load: [start: number[], end: number[]];
  loads: number;
  runs: number;
  count: number;
  collected: boolean;
}

function rulesSection(
  table: string[][],
  verdict: string,
  options: RulesOptions,
  facts: RunFacts,
): string {
  const avg = (l: number[]) => l.map((x) => x.toFixed(2)).join(" ");
  const n = options.rules.toLocaleString("en");
  const direct = DIRECT_HOSTS.join(" and ");
  return `${RULES_SECTION}

Measured by \`deno task bench --rules\`${
    options.quick ? " in quick mode (`--quick`: fewer decisions, starts and loads)" : ""
  } on ${facts.started.toISOString().slice(0, 16)}Z; load average ${
    avg(facts.load[0])
  } at the start, ${avg(facts.load[1])} at the end (2 cores, shared: compare rows of one run).

${markdownTable(table)}

**${verdict}**

- **decision**: \`RuleEngine.decide\` (\`lib/rules/\`) with ${n} \`DOMAIN-SUFFIX\` rules,
  then \`GEOIP,LAN,DIRECT\`, \`GEOIP,CN,DIRECT\`, \`MATCH,PROXY\`, for three kinds of
  connection in turn: a name under one of the rules (\`www.\` + a rule's name: the suffix
  structure finds it); a name under none, whose address is in the engine's cache (the resolve
  path an IP rule takes when reached by a name, after its first lookup), so it falls through to
  both \`GEOIP\` rules; an address the app gave (IPv4 or IPv6), to \`GEOIP\`.
  Decisions: ${facts.count.toLocaleString("en")} after as many of warm-up, each timed alone with
  \`performance.now()\` (the clock's own cost taken off); \`scripts/bench/rules_decision.ts\`,
  a process of its own.
- **load** rows: the same process, the time to read and index the GeoIP database and to parse
  and compile the rules (a \`rules:\` list in YAML, and the same names as a mihomo text
  rule-set, \`behavior: domain\`, behind one \`RULE-SET\` rule). Memory: the growth of the
  JS heap + typed arrays' buffers${
    facts.collected ? " after a full collection" : " (no collection: garbage included)"
  },
  and of the resident set (RSS). The database's RSS is above its tables: the 21 MB of CSV
  are read (one file at a time) and indexed from their bytes, and the allocator keeps some of
  that space. The \`rules:\` list is read line by line (the YAML parser gets only the rest of
  the file); the rules' RSS is their compiled form and the file's text.
- **local start-up**: \`local.ts\` spawned until its proxy port accepts a TCP connection
  (polled every 2 ms); RSS a second later. Median of ${facts.runs} starts one after another,
  one start not counted before them. The remote it names is a closed loopback port and the
  pool is off (\`--preconnect 0\`), so nothing but the start is timed. In brackets: against no
  rules. \`scripts/bench/rules_startup.ts\`.
- **page load**: the WAN page load of the first section (headless Chromium, cold, \`load\`
  event), ${SUBRESOURCES} subresources over ${HOSTS.join(", ")}; median of ${facts.loads}.
  Each SwiftProxy row on fresh processes, a ${options.rttMs} ms RTT delay relay between the
  local and the remote. **Half direct**: the local runs with a rules file of the ${n} domain
  rules, \`IP-CIDR\` rules sending ${direct} \`DIRECT\`, then \`MATCH,PROXY\`; the page
  itself (${HOSTS[0]}) and the other host come through the server.
- **What is modelled**: a \`DIRECT\` connection is the local's own dial to the page server,
  which skips the relay and the remote (the server's leg), as a domestic site skips the trip
  abroad; the page server is as close to the local (loopback, no delay) as it is to the remote,
  so a direct host here costs what a host next to the user would, the best case for
  \`DIRECT\`. **No proxy, no link**: the browser straight to the page server, the floor of
  every row. The \`load\` event waits for the last subresource, and the browser fetches from
  the four hosts at once (up to 6 connections each): the hosts left behind the server keep
  their round trips, so sending half of the hosts direct shortens the load only as far as
  those were the slowest; a page all of whose hosts are direct is the floor row plus the
  local's hop.
- Everything runs on loopback inside a network namespace of its own (\`unshare -n\`); names
  resolve from a table, and the GeoIP database is a local file: nothing leaves the machine.

Rerun: \`deno task bench --rules\` (about 5 minutes), \`--quick\`, \`--loads N\` (\`--loads 0\`:
no page loads), \`--starts N\` (starts per start-up row), \`--rule-count N\` (other than
100,000), \`--rtt MS\`, \`--no-write\`.
`;
}
