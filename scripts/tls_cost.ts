/**
 * `deno task tls-cost [--connections N]`: what one TLS connection costs in this Deno, apart from
 * SwiftProxy, for the TLS APIs either half can use. For each pairing of a client API
 * (`Deno.startTls`, `node:tls`, `node:tls` offering the previous connection's `session`) and a
 * server (`node:tls`, as the remote listens, or `Deno.listenTls`): the native and JS-heap memory
 * each held client connection adds, the handshake time, the CPU time per connection of each
 * side, and how many handshakes resumed a session; and for the `node:tls` server, how many
 * bytes per connection survive a young-generation GC (they make the GC pauses behind the
 * latency tail).
 *
 * Each side runs in its own process: `scripts/tls_cost.ts server|client …` are its parts.
 */
import tls from "node:tls";
import net from "node:net";
import { parseArgs } from "node:util";
import process from "node:process";
import type { Buffer } from "node:buffer";
import { createCertificate } from "../lib/remote/store/certificate.ts";
import { percentile } from "./bench/load.ts";

const SELF = new URL(import.meta.url).pathname;
const KiB = 1024;

/**
 * Resident size of `[heap]` in KiB: glibc's main arena, where the runtime's Rust code (rustls
 * included) allocates. The JS heap lives in separate mappings and is counted apart.
 */
function nativeKiB(): number {
  let mapping = "";
  let heap = 0;
  for (const line of Deno.readTextFileSync("/proc/self/smaps").split("\n")) {
    if (/^[0-9a-f]+-[0-9a-f]+ /.test(line)) mapping = line;
    const rss = /^Rss:\s+(\d+)/.exec(line);
    if (rss && mapping.includes("[heap]")) heap += Number(rss[1]);
  }
  return heap;
}

/** CPU time (user + system) of this process so far, in µs. */
function cpuUs(): number {
  const { user, system } = process.cpuUsage();
  return user + system;
}

/** Connections a server serves before its CPU count starts (JIT, allocator warm-up). */
const SERVER_WARM_UP = 200;

/**
 * Notes the CPU time of connections `SERVER_WARM_UP` to `SERVER_WARM_UP + measured` on stderr,
 * as `cpu µs/conn`: the client's handshakes one after another, nothing else.
 */
function serverCpuMeter(measured: number): () => void {
  let served = 0;
  let started = 0;
  return () => {
    served++;
    if (served === SERVER_WARM_UP) started = cpuUs();
    if (served === SERVER_WARM_UP + measured) {
      console.error(`cpu ${((cpuUs() - started) / measured).toFixed(0)}`);
    }
  };
}

/**
 * The server part: `node:tls` (Nagle off) or `Deno.listenTls`, writing one byte to each client.
 * Prints its port, and later its CPU time per handshake, on stderr (V8's GC trace takes stdout).
 */
function serve(kind: string, cert: string, key: string, measured: number): void {
  const served = serverCpuMeter(measured);
  if (kind === "Deno.listenTls") {
    const listener = Deno.listenTls({ hostname: "127.0.0.1", port: 0, cert, key });
    console.error(`port ${listener.addr.port}`);
    (async () => {
      for await (const conn of listener) {
        served();
        conn.write(new Uint8Array(1)).then(() => conn.read(new Uint8Array(16))).catch(() => null)
          .finally(() => {
            try {
              conn.close();
            } catch {
              // closed by the client
            }
          });
      }
    })();
    return;
  }
  const server = tls.createServer({ cert, key, noDelay: true }, (socket) => {
    served();
    socket.on("error", () => {});
    socket.write("!");
  });
  server.listen(0, "127.0.0.1", () => {
    console.error(`port ${(server.address() as net.AddressInfo).port}`);
  });
}

/** A `node:tls` session to offer on the next connection, and how many were resumed. */
const sessions = { last: undefined as Buffer | undefined, resumed: 0 };

/** Opens a TLS connection with `api` and waits for the server's first byte. */
async function connect(api: string, port: number, ca: string): Promise<() => void> {
  if (api === "Deno.startTls") {
    const tcp = await Deno.connect({ hostname: "127.0.0.1", port });
    tcp.setNoDelay(true);
    const conn = await Deno.startTls(tcp, { hostname: "localhost", caCerts: [ca] });
    await conn.read(new Uint8Array(1));
    return () => conn.close();
  }
  const raw = net.connect({ host: "127.0.0.1", port, noDelay: true });
  const resume = api === "node:tls, session" ? sessions.last : undefined;
  const socket = tls.connect({ socket: raw, ca, servername: "localhost", session: resume });
  if (api === "node:tls, session") socket.on("session", (session) => sessions.last = session);
  await new Promise<void>((resolve, reject) => {
    socket.once("data", () => resolve());
    socket.once("error", reject);
  });
  if (socket.isSessionReused()) sessions.resumed++;
  return () => socket.destroy();
}

/** A full GC, so the JS heap figures count live objects only (needs `--expose-gc`). */
function collectGarbage(): void {
  (globalThis as { gc?: () => void }).gc?.();
}

/** The client part: handshakes one after another, then memory with `count` held. */
async function client(
  api: string,
  port: number,
  ca: string,
  count: number,
  handshakes: number,
): Promise<void> {
  for (let i = 0; i < SERVER_WARM_UP; i++) (await connect(api, port, ca))();
  sessions.resumed = 0;
  const times: number[] = [];
  const cpuBefore = cpuUs();
  for (let i = 0; i < handshakes; i++) {
    const started = performance.now();
    (await connect(api, port, ca))();
    times.push(performance.now() - started);
  }
  const clientCpuUs = (cpuUs() - cpuBefore) / handshakes;
  const resumed = sessions.resumed;
  times.sort((a, b) => a - b);
  collectGarbage();
  const before = nativeKiB();
  const heapBefore = Deno.memoryUsage().heapUsed;
  const held = [];
  for (let i = 0; i < count; i++) held.push(await connect(api, port, ca));
  collectGarbage();
  const after = nativeKiB();
  const heapAfter = Deno.memoryUsage().heapUsed;
  console.log(JSON.stringify({
    nativeKiB: (after - before) / count,
    jsHeapKiB: (heapAfter - heapBefore) / KiB / count,
    p50: percentile(times, 50),
    p99: percentile(times, 99),
    clientCpuUs,
    resumed: `${resumed}/${handshakes}`,
  }));
  for (const close of held) close();
}

/** Runs a part of this script as a child process, collecting what it prints. */
function part(args: string[], v8Flags: string[] = []) {
  const child = new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", ...v8Flags, SELF, ...args],
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  const printed = { stdout: "", stderr: "" };
  const collect = async (
    name: "stdout" | "stderr",
    stream: ReadableStream<Uint8Array<ArrayBuffer>>,
  ) => {
    for await (const text of stream.pipeThrough(new TextDecoderStream())) printed[name] += text;
  };
  const ended = Promise.all([collect("stdout", child.stdout), collect("stderr", child.stderr)]);
  let exited = false;
  child.status.then(() => exited = true);
  return {
    child,
    printed,
    ended,
    /** Waits until `stream` shows `pattern`; the match. */
    async wait(pattern: RegExp, stream: "stdout" | "stderr"): Promise<RegExpExecArray> {
      for (;;) {
        const match = pattern.exec(printed[stream]);
        if (match) return match;
        if (exited) throw new Error(`${args[0]} exited early: ${printed.stderr}`);
        await new Promise((resolve) => setTimeout(resolve, 20));
      }
    },
  };
}

/** Bytes promoted by scavenges in a `--trace-gc-nvp` log, and their pauses. */
function scavenges(log: string): { promoted: number; pauses: number[] } {
  let promoted = 0;
  const pauses: number[] = [];
  for (const match of log.matchAll(/GC: (\{.*\})/g)) {
    let gc;
    try {
      gc = JSON.parse(match[1]!);
    } catch {
      continue; // a line cut short when the server was stopped
    }
    if (gc.gc !== "s") continue;
    promoted += gc.promoted ?? 0;
    pauses.push(gc.pause);
  }
  return { promoted, pauses };
}

/** The pairings measured: client API, server, and handshakes timed (Nagle makes one slow). */
const PAIRINGS: [api: string, server: string, handshakes: number][] = [
  ["Deno.startTls", "node:tls", 1000],
  ["node:tls", "node:tls", 1000],
  ["node:tls, session", "node:tls", 1000],
  ["Deno.startTls", "Deno.listenTls", 200],
];

async function main(): Promise<void> {
  const { values } = parseArgs({
    args: Deno.args,
    options: { connections: { type: "string", default: "2000" } },
  });
  const count = Number(values.connections);
  const dir = await Deno.makeTempDir({ prefix: "swiftproxy-tls-cost-" });
  try {
    const { cert, key } = await createCertificate(["localhost"]);
    await Deno.writeTextFile(`${dir}/cert.pem`, cert);
    await Deno.writeTextFile(`${dir}/key.pem`, key);
    console.log(`${count} held connections per client API; handshakes one after another\n`);
    console.log(
      "client API         server          native KiB/conn  JS heap KiB/conn  handshake p50" +
        "  p99      CPU µs/conn client  server  resumed",
    );
    let gcLog = "";
    let served = 0;
    for (const [api, kind, handshakes] of PAIRINGS) {
      const server = part(
        ["server", kind, `${dir}/cert.pem`, `${dir}/key.pem`, String(handshakes)],
        kind === "node:tls" ? ["--v8-flags=--trace-gc-nvp"] : [],
      );
      const port = Number((await server.wait(/port (\d+)/, "stderr"))[1]);
      const measured = part(
        ["client", api, String(port), `${dir}/cert.pem`, String(count), String(handshakes)],
        ["--v8-flags=--expose-gc"],
      );
      const row = JSON.parse((await measured.wait(/^\{.*\}$/m, "stdout"))[0]);
      await measured.child.status;
      const serverCpu = Number((await server.wait(/cpu (\d+)/, "stderr"))[1]);
      server.child.kill("SIGTERM");
      await server.child.status;
      await server.ended;
      if (kind === "node:tls") {
        gcLog += server.printed.stdout;
        served += SERVER_WARM_UP + handshakes + count;
      }
      console.log(
        `${api.padEnd(18)} ${kind.padEnd(15)} ${row.nativeKiB.toFixed(1).padStart(15)}  ${
          row.jsHeapKiB.toFixed(1).padStart(16)
        }  ${row.p50.toFixed(2).padStart(10)} ms  ${row.p99.toFixed(2).padStart(5)} ms  ${
          row.clientCpuUs.toFixed(0).padStart(17)
        }  ${String(serverCpu).padStart(6)}  ${row.resumed}`,
      );
    }
    const { promoted, pauses } = scavenges(gcLog);
    const worst = Math.max(0, ...pauses);
    console.log(
      `\nnode:tls server: ${(promoted / served).toFixed(0)} bytes per connection survive ` +
        `young GCs; ${pauses.length} scavenges, the longest ${worst.toFixed(2)} ms`,
    );
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

if (import.meta.main) {
  // The server and client modes are this script's own children, started with all their arguments.
  const [mode, ...rest] = Deno.args;
  if (mode === "server") {
    const [kind, cert, key, measured] = rest;
    serve(kind!, Deno.readTextFileSync(cert!), Deno.readTextFileSync(key!), Number(measured));
  } else if (mode === "client") {
    const [api, port, ca, count, handshakes] = rest;
    await client(api!, Number(port), Deno.readTextFileSync(ca!), Number(count), Number(handshakes));
    Deno.exit(0);
  } else await main();
}
