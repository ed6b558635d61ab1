/**
 * Where a cold page load's time goes, for the rows of `deno task bench`'s page-load table:
 *
 *   deno run -P=bench scripts/bench/page_timing.ts [--only floor,swiftproxy] [--loads 5]
 *     [--rtt 50]
 *
 * For each contender (the keys of {@linkcode WAN_CONTENDERS}), the same cold loads as the
 * benchmark, and the medians over them of: the page's own navigation and resource timings
 * (per subresource: waiting for a connection, connecting, including the SOCKS5 hop, request to
 * first byte, first byte to last), and the CPU each Chromium process, this process (the page
 * server and puppeteer) and the contender's processes used from navigation to `load`. Run it
 * inside a network namespace of its own, as the benchmark does:
 * `unshare -n sh -c 'ip link set lo up && exec deno run -P=bench scripts/bench/page_timing.ts'`.
 */
import { parseArgs } from "node:util";
import type { Page } from "puppeteer-core";
import { cpuMs, machineCpu } from "./load.ts";
import { coldLoad, median, processTree, startPageServer } from "./page_load.ts";
import { textTable } from "./report.ts";
import { relays } from "./wan.ts";
import { WAN_CONTENDERS } from "./wan_run.ts";

/** What one load is made of: timings (ms since navigation start) and CPU (ms). */
type Figures = Record<string, number>;

/** The page's view of its load: navigation phases and the subresources' medians. */
const PAGE_TIMINGS = `(() => {
  const nav = performance.getEntriesByType("navigation")[0];
  const all = performance.getEntriesByType("resource");
  const median = (xs) => xs.toSorted((a, b) => a - b)[Math.floor(xs.length / 2)] ?? 0;
  const connect = (r) => r.connectEnd - r.connectStart;
  const opened = all.filter((r) => connect(r) > 0);
  return {
    "page request sent": nav.requestStart,
    "page first byte": nav.responseStart,
    "page last byte": nav.responseEnd,
    "first subresource asked": Math.min(...all.map((r) => r.fetchStart)),
    "DOMContentLoaded": nav.domContentLoadedEventStart,
    "last subresource byte": Math.max(...all.map((r) => r.responseEnd)),
    "load": nav.loadEventStart,
    "subresource: waiting (median)": median(all.map((r) => r.requestStart - r.fetchStart - connect(r))),
    "subresource: waiting (max)": Math.max(...all.map((r) => r.requestStart - r.fetchStart - connect(r))),
    "connections opened": opened.length,
    "connect + SOCKS5 (median)": median(opened.map(connect)),
    "request to first byte (median)": median(all.map((r) => r.responseStart - r.requestStart)),
    "first to last byte (median)": median(all.map((r) => r.responseEnd - r.responseStart)),
  };
})()`;

/** A Chromium process's role, from the command line it shows (`--type=…`). */
function role(pid: number): string {
  try {
    const args = Deno.readTextFileSync(`/proc/${pid}/cmdline`).split(/[\0 ]/);
    const type = args.find((a) => a.startsWith("--type="))?.slice("--type=".length);
    if (!type) return "browser";
    if (type !== "utility") return type;
    return args.some((a) => a.includes("NetworkService")) ? "network service" : "utility";
  } catch {
    return "gone";
  }
}

function cpuByRole(browserPid: number): Map<string, number> {
  const byRole = new Map<string, number>();
  for (const pid of processTree(browserPid)) {
    const name = `CPU: ${role(pid)}`;
    byRole.set(name, (byRole.get(name) ?? 0) + cpuMs(pid));
  }
  return byRole;
}

/** Watches one load: the page's timings, and each process's CPU from navigation to `load`. */
function watch(proxyPids: number[], into: Figures[]) {
  let browserPid: number | undefined;
  let before = new Map<string, number>();
  const others = () =>
    new Map([
      ["CPU: page server + puppeteer", cpuMs(Deno.pid)],
      ["CPU: proxy", proxyPids.reduce((sum, pid) => sum + cpuMs(pid), 0)],
      ["CPU: whole machine", machineCpu().busyMs],
      ["CPU: stolen by the hypervisor", machineCpu().stealMs],
    ]);
  return {
    before(pid: number | undefined) {
      browserPid = pid;
      before = new Map([...pid === undefined ? [] : cpuByRole(pid), ...others()]);
    },
    async after(page: Page) {
      const after = new Map([
        ...browserPid === undefined ? [] : cpuByRole(browserPid),
        ...others(),
      ]);
      const figures = await page.evaluate(PAGE_TIMINGS) as Figures;
      for (const [name, ms] of after) figures[name] = ms - (before.get(name) ?? 0);
      into.push(figures);
    },
  };
}

const { values: flags } = parseArgs({
  args: Deno.args,
  options: {
    only: { type: "string", default: "floor,floor-socks" },
    loads: { type: "string", default: "5" },
    rtt: { type: "string", default: "50" },
  },
});
const only = flags.only.split(",");
const dir = await Deno.makeTempDir({ prefix: "swiftproxy-page-timing-" });
const pages = startPageServer();
const columns: [string, Figures[]][] = [];
try {
  for (const [key, start] of WAN_CONTENDERS) {
    if (!only.includes(key)) continue;
    const link = relays(Number(flags.rtt));
    const contender = await start(dir, link.link);
    const loads: Figures[] = [];
    try {
      for (let i = 0; i < Number(flags.loads); i++) {
        await coldLoad(pages.url, contender.socksPort, undefined, watch(contender.pids, loads));
      }
    } finally {
      await contender.stop();
      await link.stop();
    }
    columns.push([contender.name, loads]);
  }
} finally {
  await pages.close();
  await Deno.remove(dir, { recursive: true });
}
const names = [...new Set(columns.flatMap(([, loads]) => loads.flatMap(Object.keys)))];
console.log(`median of ${flags.loads} cold loads, ms (CPU: from navigation to load)`);
console.log(textTable([
  ["", ...columns.map(([name]) => name)],
  ...names.map((name) => [
    name,
    ...columns.map(([, loads]) => median(loads.map((l) => l[name] ?? 0)).toFixed(0)),
  ]),
]));
