/**
 * `deno task bench --rules [--quick] [--loads N] [--starts N] [--rule-count N] [--rtt MS]
 * [--no-write]`:
 * only what routing rules cost, one table (`bench/rules_run.ts`).
 *
 * `deno task bench [--quick] [--udp] [--rtt MS] [--loads N] [--no-wan] [--no-loopback]
 * [--only NAME,…] [--profile DIR] [--no-write]`: first over a long link (page loads in headless
 * Chromium and new connections, `bench/wan_run.ts`, a delay relay of `--rtt` ms between each
 * contender's halves), then on loopback as below. SwiftProxy
 * against Debian's trojan, shadowsocks-libev and microsocks on loopback, one contender at a time,
 * in one run. Prints tables with ratios against trojan and rewrites their sections of
 * docs/BENCHMARKS.md.
 *
 * - throughput: 1 stream × 1 GiB and 8 streams × 256 MiB, download and upload;
 * - latency: connect + SOCKS5 + first byte, one after another, p50/p99 over 1,000;
 * - tunnels: 9,000 held for 30 s, then each echoes a message; growth of the proxies' VmRSS;
 * - UDP (`--udp`: only these): 1400-byte datagrams through one association and eight, against
 *   trojan, V2Ray and shadowsocks-libev too: datagrams/s, MB/s, loss.
 *
 * `--quick` runs the same with smaller sizes (about a minute). `--profile DIR` runs SwiftProxy's
 * local and remote with `--cpu-prof` into DIR.
 */
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import { cpuMs, download, latency, tunnels, upload } from "./bench/load.ts";
import type { Route } from "./bench/load.ts";
import {
  direct,
  startLocalWithTrojan,
  startMicrosocks,
  startScript,
  startShadowsocks,
  startSwiftProxy,
  startTrojan,
  startTrojanWithRemote,
  startV2Ray,
  versions,
} from "./bench/peers.ts";
import type { Contender } from "./bench/peers.ts";
import { cells, markdownTable, SECTION, textTable } from "./bench/report.ts";
import { writeSection } from "./bench/markdown_section.ts";
import type { Row } from "./bench/report.ts";
import { udpLoad } from "./bench/udp_load.ts";
import { UDP_SECTION, udpCells, udpSection } from "./bench/udp_report.ts";
import type { UdpRow } from "./bench/udp_report.ts";
import { BENCH_MUX, runWan, WAN_CONTENDERS } from "./bench/wan_run.ts";
import { readyTunnelMemoryFresh } from "./bench/ready_memory.ts";
import { runRules } from "./bench/rules_run.ts";

const ROOT = fileURLToPath(new URL("../", import.meta.url));
const MiB = 1024 * 1024;

const { values: flags } = parseArgs({
  args: Deno.args,
  options: {
    quick: { type: "boolean", default: false },
    only: { type: "string" },
    profile: { type: "string" },
    "no-write": { type: "boolean", default: false },
    udp: { type: "boolean", default: false },
    rules: { type: "boolean", default: false },
    "rule-count": { type: "string", default: "100000" },
    starts: { type: "string" },
    rtt: { type: "string", default: "50" },
    loads: { type: "string" },
    "no-wan": { type: "boolean", default: false },
    "no-loopback": { type: "boolean", default: false },
    "no-netns": { type: "boolean", default: false },
  },
});

/**
 * Runs this benchmark again inside a network namespace of its own (`unshare -n`), where only
 * loopback exists: whatever a browser or a proxy tries, nothing leaves the machine. Returns
 * false where namespaces are not available (then it runs here, with Chromium's background
 * traffic turned off by its flags).
 */
async function inOwnNetwork(): Promise<boolean> {
  if (flags["no-netns"] || Deno.env.get("SWIFTPROXY_BENCH_NETNS")) return false;
  const probe = await new Deno.Command("unshare", { args: ["-n", "true"], stderr: "null" })
    .output().catch(() => null);
  if (!probe?.success) return false;
  const deno = [Deno.execPath(), "run", "-q", "-P=bench", fileURLToPath(import.meta.url)];
  const status = await new Deno.Command("unshare", {
    args: ["-n", "sh", "-c", 'ip link set lo up && exec "$@"', "sh", ...deno, ...Deno.args],
    env: { SWIFTPROXY_BENCH_NETNS: "1" },
  }).spawn().status;
  Deno.exit(status.code);
}

await inOwnNetwork();

/** Seconds of each UDP load. */
const UDP_SECONDS = flags.quick ? 2 : 3;

/** How much of everything: the full run, or the quick one for development. */
const SIZES = flags.quick
  ? { one: 256 * MiB, eight: 32 * MiB, pings: 200, tunnels: 1000, holdMs: 3000 }
  : { one: 1024 * MiB, eight: 256 * MiB, pings: 1000, tunnels: 9000, holdMs: 30_000 };

type Starter = (dir: string) => Promise<Contender> | Contender;
const profileFlags = flags.profile ? ["--cpu-prof", `--cpu-prof-dir=${flags.profile}`] : [];
const CONTENDERS: [string, Starter][] = [
  ["direct", direct],
  ["swiftproxy", (dir) => startSwiftProxy(dir, profileFlags)],
  [
    "swiftproxy-mux",
    (dir) =>
      startSwiftProxy(
        dir,
        profileFlags,
        undefined,
        ["--mux", `${BENCH_MUX}`],
        `SwiftProxy --mux ${BENCH_MUX}`,
      ),
  ],
  ["trojan", startTrojan],
  ["shadowsocks", startShadowsocks],
  ["microsocks", startMicrosocks],
  ["trojan-remote", startTrojanWithRemote],
  ["local-trojan", startLocalWithTrojan],
];

/** Starts a far end (`sink.ts`, `udp_echo.py`) in its own process. */
function startSink(script = "sink.ts"): Promise<{ port: number; process: Deno.ChildProcess }> {
  return startScript(script);
}

async function measure(contender: Contender, sinkPort: number): Promise<Row> {
  const route: Route = { sinkPort, socksPort: contender.socksPort };
  const step = (what: string) => console.error(`  ${contender.name}: ${what}`);
  step("latency");
  await latency(route, 200); // warm-up: JIT, TLS session caches, a long-running proxy's state
  const cpu = () => contender.pids.map(cpuMs);
  const cpuBefore = cpu();
  const { p50, p99 } = await latency(route, SIZES.pings);
  const cpuUsByProcess = cpu().map((ms, i) => (ms - cpuBefore[i]!) * 1000 / SIZES.pings);
  const cpuUs = cpuUsByProcess.length ? cpuUsByProcess.reduce((a, b) => a + b) : undefined;
  step(`${SIZES.tunnels} tunnels for ${SIZES.holdMs / 1000} s`);
  const held = await tunnels(route, SIZES.tunnels, SIZES.holdMs, contender.pids);
  step("throughput");
  const down1 = await download(route, 1, SIZES.one);
  const up1 = await upload(route, 1, SIZES.one);
  const down8 = await download(route, 8, SIZES.eight);
  const up8 = await upload(route, 8, SIZES.eight);
  return {
    name: contender.name,
    down1,
    up1,
    down8,
    up8,
    p50,
    p99,
    cpuUs,
    cpuUsByProcess,
    tunnels: { ...held, asked: SIZES.tunnels },
  };
}

function machine(): string {
  const cpu = /model name\s*:\s*(.+)/.exec(Deno.readTextFileSync("/proc/cpuinfo"))?.[1] ?? "?";
  const memory = Deno.systemMemoryInfo();
  return `${cpu}, ${navigator.hardwareConcurrency} cores, ${
    Math.round(memory.total / 1024 / 1024 / 1024)
  } GiB RAM, Linux ${Deno.osRelease()}`;
}

/** SwiftProxy's memory per ready tunnel, for the loopback section. */
let readyLine = "";

function section(table: string[][], info: Record<string, string>, started: Date): string {
  const mode = flags.quick ? "quick mode (`--quick`: smaller sizes, see below)" : "full mode";
  return `${SECTION}

Measured by \`deno task bench\` in ${mode} on ${started.toISOString().slice(0, 16)}Z.
Throughput in MB/s (10^6 bytes), latency in ms; in brackets the ratio to \`trojan\` from the
same run (higher is better for throughput, lower for latency).

${markdownTable(table)}

- **down/up 1×**: one stream of ${SIZES.one / MiB} MiB; **8×**: eight streams of ${
    SIZES.eight / MiB
  } MiB at once (aggregate).
- **p50/p99**: connect + SOCKS5 (greeting and request, two round trips) + first byte from the
  destination, ${SIZES.pings} times one after another, each on a new connection.
- **CPU µs/conn**: CPU time (user + system) of the proxy's processes during the p50/p99
  connections, per connection; **CPU client / server**: the same for each process.
- **tunnels ok**: ${SIZES.tunnels} SOCKS5 tunnels opened (64 at a time), all held for ${
    SIZES.holdMs / 1000
  } s, then each echoes a 13-byte message. A process may have 20,000 files open on this machine
  and the load generator holds one end of every tunnel, so the "10k" test runs 9,000.
- **KiB/tunnel**: growth of the proxy processes' summed \`VmRSS\` (local + remote) while the
  tunnels were held, divided by the tunnel count; **client / server**: the same for each.
${readyLine}
- **direct**: the load generator talking to the sink with no proxy, the ceiling of this
  machine; the sink is a separate Deno process (\`scripts/bench/sink.ts\`).
- **trojan → SwiftProxy remote** and **SwiftProxy local → trojan**: one half of SwiftProxy with
  the other half of trojan (both speak the Trojan protocol), to show which half costs what.

Contenders, one at a time on 127.0.0.1: SwiftProxy (\`remote.ts serve --allow-private\` +
\`local.ts\`, TLS 1.3, log level warning), trojan (client + server, TLS with an \`openssl\`
ECDSA P-256 certificate verified by the client), shadowsocks-libev (\`ss-local\` + \`ss-server\`,
chacha20-ietf-poly1305, \`--no-delay\`), microsocks (one plain SOCKS5 hop).

Machine: ${machine()}. The cores are shared with other work, so compare ratios within a run.
Versions: ${Object.entries(info).map(([name, version]) => `${name} ${version}`).join(", ")}.

Rerun: \`deno task bench\` (full, about 10 minutes) or \`deno task bench --quick\` (about 2);
\`--no-wan\` runs only the loopback tables (and the UDP one);
\`--only swiftproxy,trojan\` runs some rows (the others: \`direct\`, \`swiftproxy-mux\`, \`shadowsocks\`,
\`microsocks\`, \`trojan-remote\`, \`local-trojan\`), \`--profile DIR\` writes V8 CPU profiles
of SwiftProxy's processes.
`;
}

const UDP_CONTENDERS: [string, Starter][] = [
  // trojan first: the others are also paced at the rate it delivers.
  ["trojan", startTrojan],
  ["swiftproxy", (dir) => startSwiftProxy(dir, profileFlags)],
  ["v2ray", startV2Ray],
  ["shadowsocks", startShadowsocks],
];

/**
 * The UDP loads of one contender, each on freshly started processes: V2Ray 4.34's Trojan server
 * panics ("use of closed network connection", proxy/trojan/server.go:210) when an association
 * closes with replies still on their way, and would take the later loads down with it.
 */
async function measureUdp(
  key: string,
  start: Starter,
  dir: string,
  echoPort: number,
  paced?: { one: number; eight: number },
): Promise<UdpRow> {
  const ms = UDP_SECONDS * 1000;
  let name = key;
  const load = async (associations: number, rate?: number) => {
    const contender = await start(dir);
    name = contender.name;
    console.error(`  ${name}: UDP, ${associations} association(s)${rate ? ", paced" : ""}`);
    try {
      return await udpLoad(contender.socksPort!, echoPort, associations, ms, rate);
    } finally {
      await contender.stop();
    }
  };
  const one = await load(1);
  const eight = await load(8);
  const row: UdpRow = { name, one, eight };
  if (paced) {
    row.pacedOne = await load(1, paced.one);
    row.pacedEight = await load(8, paced.eight);
  }
  return row;
}

/** The UDP rows, one contender at a time, the others paced at the rate trojan delivered. */
async function runUdp(dir: string, only?: string[]): Promise<void> {
  const echo = await startSink("udp_echo.py");
  const rows: UdpRow[] = [];
  let paced: { one: number; eight: number } | undefined;
  try {
    for (const [key, start] of UDP_CONTENDERS) {
      if (only && !only.includes(key)) continue;
      console.error(`${key} (UDP)…`);
      const row = await measureUdp(
        key,
        start,
        dir,
        echo.port,
        key === "trojan" ? undefined : paced,
      );
      if (key === "trojan") paced = { one: row.one.perSecond, eight: row.eight.perSecond };
      rows.push(row);
    }
  } finally {
    echo.process.kill("SIGTERM");
    await echo.process.status;
  }
  const table = udpCells(rows);
  console.log(textTable(table));
  if (!flags["no-write"]) {
    const text = udpSection(markdownTable(table), UDP_SECONDS, paced, machine(), started);
    await writeSection(`${ROOT}docs/BENCHMARKS.md`, UDP_SECTION, text);
    console.error(`wrote ${UDP_SECTION.slice(3)} in docs/BENCHMARKS.md`);
  }
}

/** What `--only` takes: a row's key, or its name as the tables print it. */
const ROW_KEYS: Record<string, string> = {
  "shadowsocks-libev": "shadowsocks",
  "v2ray (trojan)": "v2ray",
};

/**
 * The rows `--only` asks for, as keys; exits on a name no table has, which would otherwise
 * run nothing for it without a word.
 */
function onlyKeys(text: string | undefined): string[] | undefined {
  if (text === undefined) return undefined;
  const known = new Set([...CONTENDERS, ...UDP_CONTENDERS, ...WAN_CONTENDERS].map(([key]) => key));
  const keys = text.split(",").map((name) => name.trim().toLowerCase()).map((name) =>
    ROW_KEYS[name] ?? name
  );
  const unknown = keys.filter((key) => !known.has(key));
  if (unknown.length) {
    console.error(`--only: no row ${unknown.join(", ")}; the rows: ${[...known].join(", ")}`);
    Deno.exit(2);
  }
  return keys;
}

const started = new Date();
const only = onlyKeys(flags.only);
const dir = await Deno.makeTempDir({ prefix: "swiftproxy-bench-" });
if (flags.rules) {
  try {
    await runRules({
      dir,
      rules: Number(flags["rule-count"]),
      rttMs: Number(flags.rtt),
      quick: flags.quick,
      loads: flags.loads === undefined ? undefined : Number(flags.loads),
      starts: flags.starts === undefined ? undefined : Number(flags.starts),
      write: flags["no-write"] ? undefined : `${ROOT}docs/BENCHMARKS.md`,
    });
  } finally {
    await Deno.remove(dir, { recursive: true }).catch(() => {});
  }
  Deno.exit(0);
}
if (flags.udp) {
  try {
    await runUdp(dir, only);
  } finally {
    await Deno.remove(dir, { recursive: true }).catch(() => {});
  }
  Deno.exit(0);
}
const sink = await startSink();
const rows: Row[] = [];
try {
  if (!flags["no-wan"]) {
    // Its section first in the file: before the loopback one, when the file has neither yet.
    await runWan({
      dir,
      sinkPort: sink.port,
      rttMs: Number(flags.rtt),
      quick: flags.quick,
      loads: flags.loads ? Number(flags.loads) : undefined,
      only,
      write: flags["no-write"] ? undefined : `${ROOT}docs/BENCHMARKS.md`,
      versions: await versions(),
    });
  }
  for (const [key, start] of flags["no-loopback"] ? [] : CONTENDERS) {
    if (only && !only.includes(key)) continue;
    console.error(`${key}…`);
    const contender = await start(dir);
    try {
      rows.push(await measure(contender, sink.port));
    } finally {
      await contender.stop();
    }
  }
} finally {
  sink.process.kill("SIGTERM");
  await sink.process.status;
  await Deno.remove(dir, { recursive: true }).catch(() => {});
}

const table = cells(rows);
if (rows.length) console.log(textTable(table));
if (rows.some((row) => row.name === "SwiftProxy")) {
  const ready = await readyTunnelMemoryFresh(3);
  readyLine = `- **A ready tunnel** (opened ahead by the pool: TCP + TLS, no header yet) costs ${
    ready.local.toFixed(1)
  } KiB in the local and ${
    ready.remote.toFixed(1)
  } KiB in the remote (\`scripts/bench/ready_memory.ts\`, fresh processes: 60 at once, 3 rounds); the client / server column above is per active tunnel.`;
  console.log(readyLine);
}
if (!flags["no-write"] && rows.length) {
  const info = await versions();
  await writeSection(`${ROOT}docs/BENCHMARKS.md`, SECTION, section(table, info, started));
  console.error(`wrote ${SECTION.slice(3)} in docs/BENCHMARKS.md`);
}
if (flags["no-loopback"]) Deno.exit(0);
const udpDir = await Deno.makeTempDir({ prefix: "swiftproxy-bench-udp-" });
try {
  await runUdp(udpDir, only);
} finally {
  await Deno.remove(udpDir, { recursive: true }).catch(() => {});
}
