/**
 * The first tables of `deno task bench`: cold page loads in headless Chromium and new
 * connections one at a time and in bursts, each contender's two halves joined by a delay relay
 * (`delay_relay.ts`). Writes its own section of docs/BENCHMARKS.md, which comes first there.
 */
import { measureWan, relays, wanCells } from "./wan.ts";
import type { WanRow } from "./wan.ts";
import { pageLoads, startPageServer, SUBRESOURCES } from "./page_load.ts";
import type { PageLoads } from "./page_load.ts";
import {
  direct,
  startMicrosocks,
  startShadowsocks,
  startSwiftProxy,
  startTrojan,
  startV2Ray,
} from "./peers.ts";
import type { Contender, Link } from "./peers.ts";
import type { Route } from "./load.ts";
import { markdownTable, textTable } from "./report.ts";
import { writeSection } from "./markdown_section.ts";

/** What {@linkcode runWan} needs from the command line. */
export interface WanOptions {
  /** Scratch directory for the contenders' files. */
  dir: string;
  /** The sink's port (`sink.ts`), the far end of the connection rows. */
  sinkPort: number;
  rttMs: number;
  quick: boolean;
  /** Cold page loads per contender, when not the default (10, or 3 when quick). */
  loads?: number;
  /** Keys of the contenders to run; all when absent. */
  only?: string[];
  /** docs/BENCHMARKS.md, or nothing to write. */
  write?: string;
  versions: Record<string, string>;
}

/** The row that is the browser's own time: no proxy and no link. */
const FLOOR = "no proxy, no link";
/** The page through one plain SOCKS5 hop on loopback, no link. */
const SOCKS_FLOOR = "microsocks, no link";

/** `--mux` of the mux rows: 24 connections of a page spread over 3 tunnels of 8, one spare. */
export const BENCH_MUX = 4;
const MUX_FLAGS = ["--mux", String(BENCH_MUX)];
const MUX_NAME = `SwiftProxy --mux ${BENCH_MUX}`;
/** The lossy rows' emulated loss, in % (`delay_relay.ts --loss`). */
export const LOSS_PERCENT = 1;
const LOSSY = `, ${LOSS_PERCENT} % loss`;

/** Contenders over the delay relay: SwiftProxy with and without its pool or mux, Trojan, SS. */
export const WAN_CONTENDERS: [string, (dir: string, link: Link) => Promise<Contender>][] = [
  ["swiftproxy", (dir, link) => startSwiftProxy(dir, [], link)],
  [
    "swiftproxy-nopool",
    (dir, link) => startSwiftProxy(dir, [], link, ["--preconnect", "0"], "SwiftProxy, no pool"),
  ],
  ["swiftproxy-mux", (dir, link) => startSwiftProxy(dir, [], link, MUX_FLAGS, MUX_NAME)],
  ["trojan", startTrojan],
  ["shadowsocks", startShadowsocks],
  ["v2ray", startV2Ray],
  // No link at all (page loads only): what the browser itself takes for the page here…
  ["floor", () => Promise.resolve({ ...direct(), name: FLOOR })],
  // …and through a SOCKS5 hop that relays in 1 KiB writes with Nagle on.
  ["floor-socks", async (dir) => ({ ...await startMicrosocks(dir), name: SOCKS_FLOOR })],
  // The same page over a link that loses 1 % of its segments: page loads only.
  [
    "trojan-lossy",
    async (dir, link) => ({ ...await startTrojan(dir, link), name: `trojan${LOSSY}` }),
  ],
  [
    "swiftproxy-lossy",
    (dir, link) => startSwiftProxy(dir, [], link, [], `SwiftProxy${LOSSY}`),
  ],
  [
    "swiftproxy-mux-lossy",
    (dir, link) => startSwiftProxy(dir, [], link, MUX_FLAGS, `${MUX_NAME}${LOSSY}`),
  ],
];

/** The rows whose link loses segments. */
const LOSSY_ROWS = ["trojan-lossy", "swiftproxy-lossy", "swiftproxy-mux-lossy"];
/** The rows that measure page loads only. */
const FLOORS = ["floor", "floor-socks", ...LOSSY_ROWS];

/** The heading of the WAN section, which comes first in docs/BENCHMARKS.md. */
export const WAN_SECTION = "## Page loads and new connections over a long link";

/**
 * Runs the page loads and the connection rows for every contender, prints both tables and
 * writes the section.
 */
export async function runWan(options: WanOptions): Promise<void> {
  const RTT = options.rttMs;
  const WAN = options.quick
    ? { loads: 3, one: 10, rounds8: 3, rounds24: 2 }
    : { loads: 10, one: 40, rounds8: 12, rounds24: 8 };
  if (options.loads) WAN.loads = options.loads;
  const started = new Date();
  const loadAtStart = Deno.loadavg();
  const wanRows: WanRow[] = [];
  const loads: PageLoads[] = [];
  const pages = startPageServer();
  try {
    for (const [key, start] of WAN_CONTENDERS) {
      if (options.only && !options.only.includes(key)) continue;
      console.error(`${key} over ${RTT} ms RTT…`);
      const link = relays(RTT, LOSSY_ROWS.includes(key) ? LOSS_PERCENT : 0);
      const contender = await start(options.dir, link.link);
      try {
        console.error(`  ${contender.name}: ${WAN.loads} cold page loads`);
        loads.push(await pageLoads(contender.name, pages.url, contender.socksPort, WAN.loads));
        if (FLOORS.includes(key)) continue;
        console.error(`  ${contender.name}: connect to first byte`);
        const route: Route = { sinkPort: options.sinkPort, socksPort: contender.socksPort };
        wanRows.push(await measureWan(contender.name, route, WAN));
      } finally {
        await contender.stop();
        await link.stop();
      }
    }
  } finally {
    await pages.close();
  }
  const loadAtEnd = Deno.loadavg();
  if (loads.length === 0) return;
  const pageTable = loadCells(loads, RTT);
  const wanTable = wanCells(wanRows, RTT);
  console.log(textTable(pageTable));
  console.log();
  console.log(textTable(wanTable));
  console.log();
  if (!options.write) return;
  const text = wanSection(pageTable, wanTable, options, WAN, started, [loadAtStart, loadAtEnd]);
  await writeSection(options.write, WAN_SECTION, text);
  console.error(`wrote ${WAN_SECTION.slice(3)} in docs/BENCHMARKS.md`);
}

/** The page-load table: p50 of the cold loads, every load, ratios to trojan and SS. */
function loadCells(results: PageLoads[], RTT: number): string[][] {
  const of = (name: string) => results.find((r) => r.name === name)?.p50;
  const trojan = of("trojan");
  const ss = of("shadowsocks-libev");
  const ratio = (value: number, base: number | undefined) =>
    base ? `${(value / base).toFixed(2)}×` : "–";
  return [
    ["", "load p50", "÷ trojan", "÷ shadowsocks-libev", "elsewhere", "every load, in order (ms)"],
    ...results.map((r) => [
      r.name,
      `${r.p50.toFixed(0)} ms (${(r.p50 / RTT).toFixed(1)} RTT)`,
      ratio(r.p50, trojan),
      ratio(r.p50, ss),
      `${r.elsewhere.othersMs.toFixed(0)} + ${r.elsewhere.stealMs.toFixed(0)} ms`,
      r.times.map((t) => t.toFixed(0)).join(", "),
    ]),
  ];
}

function wanSection(
  pageTable: string[][],
  wanTable: string[][],
  options: WanOptions,
  WAN: { loads: number; one: number; rounds8: number; rounds24: number },
  started: Date,
  load: [start: number[], end: number[]],
): string {
  const RTT = options.rttMs;
  const info = options.versions;
  const avg = (l: number[]) => l.map((x) => x.toFixed(2)).join(" ");
  return `${WAN_SECTION}

Measured by \`deno task bench\`${
    options.quick ? " in quick mode (`--quick`: fewer loads and rounds)" : ""
  } on ${started.toISOString().slice(0, 16)}Z at ${RTT} ms RTT; load average ${
    avg(load[0])
  } at the start, ${avg(load[1])} at the end (2 cores, shared).

**Page load**: headless Chromium ${info.chromium ?? ""} loads a page with ${SUBRESOURCES}
subresources (4 stylesheets, 8 deferred scripts, 48 images; 6–16 KiB each, \`no-store\`)
spread over four host names, 127.0.0.1–127.0.0.4, through each contender's SOCKS5 port
(\`--proxy-bypass-list=<-loopback>\`); time from navigation start to the \`load\` event, median of
${WAN.loads} cold loads, one after another. Cold: a new browser and profile each (no cache, no
connection open; the profile on a tmpfs, \`/dev/shm\`), which navigates once it has started in
full (a blank tab open, then its processes idle: under 10 ms of CPU in 200 ms), so the browser's
own start is not timed; the same for every row. HTTP/1.1, so up to 6 connections per host: 24
at once.

${markdownTable(pageTable)}

**New connections**: connect + SOCKS5 + first byte from the destination. One at a time
(${WAN.one}, 100 ms apart), and bursts of 8 (${WAN.rounds8} rounds) and of 24 (${WAN.rounds24}
rounds) at once, a second apart; p50 and p90 over every connection. In brackets: RTTs and the
ratio of the p50 to trojan's.

${markdownTable(wanTable)}

- **The link**: \`scripts/bench/delay_relay.ts\`, a process of its own between each contender's
  client half and server half, delays every byte by half the RTT each way and the first byte of
  a connection by one RTT more (a TCP connect costs one round trip). The browser, the client
  half and the SOCKS5 hop are on one side, the server half and the destinations on the other.
- Before the rows are counted, each contender gets one burst of 24 and three single
  connections (JIT, caches, and what a proxy in use has learnt). SwiftProxy's ready-tunnel pool
  (\`lib/local/tunnel/tunnel_pool.ts\`) has also seen the page loads by then; the page loads show the
  first load apart.
- **elsewhere**: CPU per load (median, from navigation to \`load\`) that went to processes
  outside the benchmark, + what the hypervisor took (steal): \`/proc/stat\` less the benchmark's
  own processes, in 10 ms ticks. What a row shared the cores with.
- **${FLOOR}**: the browser alone, straight to the page server: the time the browser
  itself needs on this machine, which every other row includes. **${SOCKS_FLOOR}**: through
  microsocks on loopback, which relays in 1 KiB writes with Nagle's algorithm on, so most
  responses stall until the browser's delayed ACK: slower than the contenders' own hops (all
  with Nagle off), so no floor for them.
- **SwiftProxy, no pool** is \`--preconnect 0\`. **${MUX_NAME}**: app connections as
  Mux.Cool sub-connections of at most ${BENCH_MUX} shared tunnels (\`lib/local/tunnel/mux_route.ts\`).
- **${LOSS_PERCENT} % loss** rows: the same link, where each 1448-byte segment is lost with
  probability ${LOSS_PERCENT} %, emulated as the stall a loss causes a TCP stream (\`--loss\` of
  \`delay_relay.ts\`: the chunk and everything behind it on that connection held 200 ms more);
  many sub-connections on one tunnel all wait for it. **V2Ray (Trojan)**: V2Ray's own Trojan
  client and server.
- The benchmark runs in a network namespace of its own (\`unshare -n\`, only loopback), so
  nothing a browser or a proxy tries leaves the machine.

Rerun: \`deno task bench --no-loopback\` (these tables, about 7 minutes), \`--rtt 100\` for
another link, \`--loads N\`, \`--only swiftproxy,trojan\` (the others: \`swiftproxy-nopool\`, \`swiftproxy-mux\`,
\`shadowsocks\`, \`v2ray\`, \`floor\`, \`floor-socks\`, \`trojan-lossy\`, \`swiftproxy-lossy\`,
\`swiftproxy-mux-lossy\`); \`deno task bench\` runs these and the
loopback tables below. On a shared machine, nothing else should run meanwhile: every row is
mostly the browser's CPU.
`;
}
