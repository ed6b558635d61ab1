/**
 * CPU per new connection of each half, SwiftProxy against Debian's trojan: both started on
 * loopback (SwiftProxy's real `remote.ts` and `local.ts`, ready tunnels on), then SOCKS5
 * connect + first byte from the sink, one connection after another, in batches that alternate
 * between the two so that the machine's load drifts over both alike. CPU from `/proc`.
 *
 * With a mode, SwiftProxy alone, and one look inside it while the connections run:
 * - `prof`: V8 CPU profiles of both halves (`--cpu-prof`, each process's whole run), self time
 *   per function printed, files in `/tmp/prof-local.cpuprofile` and `/tmp/prof-remote.cpuprofile`
 *   ("(idle)" hides the runtime's own async work, TLS among it);
 * - `perf`: `perf record` of both into `/tmp/perf.data` (Deno is stripped: libc and kernel
 *   symbols only);
 * - `strace`: syscall counts into `/tmp/strace-local.txt` and `/tmp/strace-remote.txt`
 *   (`FULL=1`: every call, timed).
 *
 * `MUX=N` in the environment runs SwiftProxy's local with `--mux N`.
 *
 * @example deno task prof-conn 2000           # SwiftProxy and trojan, 2,000 connections each
 * @example deno task prof-conn 3000 prof      # where SwiftProxy's JavaScript time goes
 */
import { startScript, startSwiftProxy, startTrojan } from "./bench/peers.ts";
import type { Contender } from "./bench/peers.ts";
import { cpuMs, latency } from "./bench/load.ts";
import type { Route } from "./bench/load.ts";

const COUNT = Number(Deno.args[0] ?? 2000);
const MODE = Deno.args[1] as "prof" | "perf" | "strace" | undefined;
const BATCH = 250;
const HALVES = ["local", "remote"] as const;
const MUX = Deno.env.get("MUX");
/** The local's flags: `--mux N` with `MUX=N`. */
const LOCAL_FLAGS = MUX ? ["--mux", MUX] : [];

/** A V8 CPU profile, as `--cpu-prof` writes it. */
interface Profile {
  nodes: { id: number; callFrame: { functionName: string; url: string; lineNumber: number } }[];
  samples: number[];
}

/** Prints the functions with the most self time in `profile`. */
function summarise(name: string, profile: Profile): void {
  const byId = new Map(profile.nodes.map((node) => [node.id, node.callFrame]));
  const self = new Map<string, number>();
  for (const id of profile.samples) {
    const frame = byId.get(id)!;
    const where = frame.url.replace(/.*\/(lib|ext:)/, "$1");
    const key = `${frame.functionName || "(anonymous)"} ${where}:${frame.lineNumber + 1}`;
    self.set(key, (self.get(key) ?? 0) + 1);
  }
  console.log(`\n== ${name}: ${profile.samples.length} samples`);
  for (const [key, hits] of [...self].sort((a, b) => b[1] - a[1]).slice(0, 45)) {
    console.log(`${(100 * hits / profile.samples.length).toFixed(1).padStart(5)}%  ${key}`);
  }
}

/** CPU µs per connection of each process of `contender` over `count` connections. */
async function cpuPerConnection(contender: Contender, route: Route, count: number) {
  const before = contender.pids.map(cpuMs);
  await latency(route, count);
  return contender.pids.map((pid, i) => (cpuMs(pid) - before[i]!) * 1000 / count);
}

/** SwiftProxy and trojan in alternating batches; µs per connection and the ratios. */
async function compare(dir: string, sinkPort: number): Promise<void> {
  const contenders = [
    await startSwiftProxy(dir, [], undefined, LOCAL_FLAGS),
    await startTrojan(dir),
  ];
  // Per contender (SwiftProxy, trojan): µs of the client half and of the server half.
  const totals: [[number, number], [number, number]] = [[0, 0], [0, 0]];
  try {
    for (const c of contenders) await latency({ sinkPort, socksPort: c.socksPort }, 300);
    for (let done = 0; done < COUNT; done += BATCH) {
      const count = Math.min(BATCH, COUNT - done);
      for (const [i, c] of contenders.entries()) {
        const us = await cpuPerConnection(c, { sinkPort, socksPort: c.socksPort }, count);
        us.forEach((value, half) => totals[i]![half]! += value * count / COUNT);
      }
    }
  } finally {
    for (const c of contenders) await c.stop();
  }
  const [swift, trojan] = totals;
  const ratio = (half: 0 | 1) => (swift[half] / trojan[half]).toFixed(2);
  console.log(`CPU µs per connection, ${COUNT} each (client half / server half):`);
  console.log(`  SwiftProxy ${Math.round(swift[0])} / ${Math.round(swift[1])}`);
  console.log(`  trojan     ${Math.round(trojan[0])} / ${Math.round(trojan[1])}`);
  console.log(`  ratio      ${ratio(0)}× / ${ratio(1)}×`);
}

/** SwiftProxy alone with `MODE` watching both halves. */
async function inspect(dir: string, sinkPort: number): Promise<void> {
  const profiles = `${dir}/profiles`;
  const flags = MODE === "prof" ? ["--cpu-prof", `--cpu-prof-dir=${profiles}`] : [];
  const swift = await startSwiftProxy(dir, flags, undefined, LOCAL_FLAGS);
  const route = { sinkPort, socksPort: swift.socksPort };
  try {
    await latency(route, 300);
    const watchers = watch(swift.pids);
    if (MODE === "strace") await new Promise((resolve) => setTimeout(resolve, 1000));
    const us = await cpuPerConnection(swift, route, COUNT);
    for (const watcher of watchers) {
      watcher.kill("SIGINT");
      await watcher.status;
    }
    console.log(
      `SwiftProxy CPU µs per connection, local / remote: ${us.map(Math.round).join(" / ")}`,
    );
  } finally {
    await swift.stop();
  }
  if (MODE === "prof") await summariseProfiles(profiles, swift.pids);
}

/**
 * Each half's profile (written as it exits, named after its pid; the whole run, start-up and
 * warm-up included), copied to `/tmp/prof-HALF.cpuprofile` and summarised.
 */
async function summariseProfiles(profiles: string, pids: number[]): Promise<void> {
  for await (const file of Deno.readDir(profiles)) {
    const half = pids.findIndex((pid) => file.name.endsWith(`.${pid}.cpuprofile`));
    if (half < 0) continue; // `init` and `user add`
    const text = await Deno.readTextFile(`${profiles}/${file.name}`);
    await Deno.writeTextFile(`/tmp/prof-${HALVES[half]}.cpuprofile`, text);
    summarise(HALVES[half]!, JSON.parse(text));
  }
}

/** The `perf` or `strace` processes that `MODE` asks for, attached to `pids`. */
function watch(pids: number[]): Deno.ChildProcess[] {
  const spawn = (command: string, args: string[]) =>
    new Deno.Command(command, { args, stdout: "null", stderr: "null" }).spawn();
  if (MODE === "perf") {
    return [
      spawn("perf", ["record", "-F", "1999", "-g", "-o", "/tmp/perf.data", "-p", pids.join(",")]),
    ];
  }
  if (MODE !== "strace") return [];
  const detail = Deno.env.get("FULL") === "1" ? "-tt" : "-c";
  return pids.map((pid, i) =>
    spawn("strace", [
      detail,
      "-f",
      "-e",
      "trace=!futex,clock_nanosleep",
      "-o",
      `/tmp/strace-${HALVES[i]}.txt`,
      "-p",
      String(pid),
    ])
  );
}

const dir = await Deno.makeTempDir({ prefix: "prof-conn-" });
const sink = await startScript("sink.ts");
try {
  if (MODE) await inspect(dir, sink.port);
  else await compare(dir, sink.port);
} finally {
  sink.process.kill();
  await sink.process.status;
  await Deno.remove(dir, { recursive: true });
}
