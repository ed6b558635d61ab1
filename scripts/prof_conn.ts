/**
 * CPU per new connection of each half, SwiftProxy against Debian's trojan: both started on
 * loopback (SwiftProxy's real `remote.ts` and `local.ts`, ready tunnels on), then SOCKS5
 * connect + first byte from the sink, one connection after another, in batches that alternate
 * between the two so that the machine's load drifts over both alike. CPU from `/proc`.
 *
 * With a mode, SwiftProxy alone, and one look inside it while the connections run:
 * - `prof`: V8 CPU profiles of both halves over the inspector, self time per function printed,
 *   files in `/tmp/prof-local.cpuprofile` and `/tmp/prof-remote.cpuprofile` ("(idle)" hides
 *   the runtime's own async work, TLS among it);
 * - `perf`: `perf record` of both into `/tmp/perf.data` (Deno is stripped: libc and kernel
 *   symbols only);
 * - `strace`: syscall counts into `/tmp/strace-local.txt` and `/tmp/strace-remote.txt`
 *   (`FULL=1`: every call, timed).
 *
 * @example deno task prof-conn 2000           # SwiftProxy and trojan, 2,000 connections each
 * @example deno task prof-conn 3000 prof      # where SwiftProxy's JavaScript time goes
 */
import { freePort, startScript, startSwiftProxy, startTrojan } from "./bench/peers.ts";
import type { Contender } from "./bench/peers.ts";
import { cpuMs, latency } from "./bench/load.ts";
import type { Route } from "./bench/load.ts";

const COUNT = Number(Deno.args[0] ?? 2000);
const MODE = Deno.args[1] as "prof" | "perf" | "strace" | undefined;
const BATCH = 250;
const HALVES = ["local", "remote"] as const;

/** A profile as `Profiler.stop` returns it. */
interface Profile {
  nodes: { id: number; callFrame: { functionName: string; url: string; lineNumber: number } }[];
  samples: number[];
}

/** A minimal Chrome DevTools Protocol client over one WebSocket. */
class Inspector {
  readonly #ws: WebSocket;
  #id = 0;
  readonly #waiting = new Map<number, (result: unknown) => void>();

  private constructor(ws: WebSocket) {
    this.#ws = ws;
    ws.onmessage = (event) => {
      const message = JSON.parse(event.data);
      if (message.id) this.#waiting.get(message.id)?.(message.result);
    };
  }

  static async open(url: string): Promise<Inspector> {
    const ws = new WebSocket(url);
    await new Promise((resolve) => ws.onopen = resolve);
    return new Inspector(ws);
  }

  send<T>(method: string, params = {}): Promise<T> {
    const id = ++this.#id;
    this.#ws.send(JSON.stringify({ id, method, params }));
    return new Promise((resolve) => this.#waiting.set(id, resolve as (result: unknown) => void));
  }

  close(): void {
    this.#ws.close();
  }
}

/** The inspector URL of the process listening for `--inspect` on `port`. */
async function inspectorUrl(port: number): Promise<string> {
  for (let i = 0; i < 100; i++) {
    try {
      const list = await (await fetch(`http://127.0.0.1:${port}/json/list`)).json();
      return list[0].webSocketDebuggerUrl;
    } catch {
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
  }
  throw new Error(`no inspector on port ${port}`);
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
  return contender.pids.map((pid, i) => (cpuMs(pid) - before[i]) * 1000 / count);
}

/** SwiftProxy and trojan in alternating batches; µs per connection and the ratios. */
async function compare(dir: string, sinkPort: number): Promise<void> {
  const contenders = [await startSwiftProxy(dir), await startTrojan(dir)];
  const totals = contenders.map(() => [0, 0]);
  try {
    for (const c of contenders) await latency({ sinkPort, socksPort: c.socksPort }, 300);
    for (let done = 0; done < COUNT; done += BATCH) {
      const count = Math.min(BATCH, COUNT - done);
      for (const [i, c] of contenders.entries()) {
        const us = await cpuPerConnection(c, { sinkPort, socksPort: c.socksPort }, count);
        us.forEach((value, half) => totals[i][half] += value * count / COUNT);
      }
    }
  } finally {
    for (const c of contenders) await c.stop();
  }
  const [swift, trojan] = totals;
  const ratio = (half: number) => (swift[half] / trojan[half]).toFixed(2);
  console.log(`CPU µs per connection, ${COUNT} each (client half / server half):`);
  console.log(`  SwiftProxy ${Math.round(swift[0])} / ${Math.round(swift[1])}`);
  console.log(`  trojan     ${Math.round(trojan[0])} / ${Math.round(trojan[1])}`);
  console.log(`  ratio      ${ratio(0)}× / ${ratio(1)}×`);
}

/** SwiftProxy alone with `MODE` watching both halves. */
async function inspect(dir: string, sinkPort: number): Promise<void> {
  // Deno -q prints no inspector URL, so each half gets a port of its own.
  const ports = [freePort(), freePort()];
  const flags = (i: number) => MODE === "prof" ? [`--inspect=127.0.0.1:${ports[i]}`] : [];
  const swift = await startSwiftProxy(dir, flags(0), undefined, [], "SwiftProxy", flags(1));
  const route = { sinkPort, socksPort: swift.socksPort };
  try {
    await latency(route, 300);
    const inspectors = MODE === "prof"
      ? await Promise.all(
        ports.map(async (port) => Inspector.open(await inspectorUrl(port))),
      )
      : [];
    for (const inspector of inspectors) {
      await inspector.send("Profiler.enable");
      await inspector.send("Profiler.setSamplingInterval", { interval: 200 });
      await inspector.send("Profiler.start");
    }
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
    for (const [i, inspector] of inspectors.entries()) {
      const { profile } = await inspector.send<{ profile: Profile }>("Profiler.stop");
      await Deno.writeTextFile(`/tmp/prof-${HALVES[i]}.cpuprofile`, JSON.stringify(profile));
      summarise(HALVES[i], profile);
      inspector.close();
    }
  } finally {
    await swift.stop();
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
