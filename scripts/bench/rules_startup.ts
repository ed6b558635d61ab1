/**
 * What rules cost the local at start: the time from spawning `local.ts` to its "proxy on"
 * line, and its resident set a second later, with no rules, with one domain rule, and with
 * `--direct-country CN` (the GeoIP database loads). The remote named is a closed loopback
 * port: nothing is dialled.
 *
 * ```sh
 * flock -o /work/bench.lock deno run -A scripts/bench/rules_startup.ts [--runs N]
 * ```
 */
import { parseArgs } from "node:util";
import { fileURLToPath } from "node:url";

const { values } = parseArgs({ options: { runs: { type: "string", default: "5" } } });
const RUNS = Number(values.runs);
const ROOT = fileURLToPath(new URL("../../", import.meta.url));

const dir = await Deno.makeTempDir({ prefix: "swiftproxy-rules-startup-" });
await Deno.writeTextFile(`${dir}/domain.yaml`, "rules:\n  - DOMAIN-SUFFIX,example.org,DIRECT\n");
const CASES: [string, string[]][] = [
  ["no rules", []],
  ["one DOMAIN-SUFFIX rule", ["--rules", `${dir}/domain.yaml`]],
  ["--direct-country CN (GeoIP)", ["--direct-country", "CN"]],
];

/** A free loopback port (bound, then released). */
function freePort(): number {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const { port } = listener.addr;
  listener.close();
  return port;
}

/** One start: ms to the "proxy on" line, and the resident set (bytes) a second after it. */
async function start(args: string[]): Promise<{ ms: number; rss: number }> {
  const started = performance.now();
  const child = new Deno.Command(Deno.execPath(), {
    args: [
      "run",
      "-q",
      "-P=local",
      `${ROOT}local.ts`,
      "--listen",
      `127.0.0.1:${freePort()}`,
      "--remote",
      `127.0.0.1:${freePort()}`,
      "--user",
      "bench",
      "--no-ui",
      "--config",
      `${dir}/local.json`,
      ...args,
    ],
    env: { SWIFTPROXY_PASSWORD: "bench-password", NO_COLOR: "1" },
    stdout: "piped",
    stderr: "null",
  }).spawn();
  const reader = child.stdout.pipeThrough(new TextDecoderStream()).getReader();
  let output = "";
  while (!output.includes("proxy on")) {
    const { value, done } = await reader.read();
    if (done) throw new Error(`the local exited: ${output}`);
    output += value;
  }
  const ms = performance.now() - started;
  await new Promise((resolve) => setTimeout(resolve, 1000));
  const status = await Deno.readTextFile(`/proc/${child.pid}/status`);
  const rss = Number(/VmRSS:\s+(\d+) kB/.exec(status)![1]) * 1024;
  child.kill("SIGTERM");
  reader.cancel().catch(() => {});
  await child.status;
  return { ms, rss };
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
console.log(`| local started with | to "proxy on", ms (median of ${RUNS}) | resident set, MiB |`);
console.log("| --- | --- | --- |");
for (const [label, args] of CASES) {
  const runs = [];
  for (let i = 0; i < RUNS; i++) runs.push(await start(args));
  const rss = median(runs.map((r) => r.rss)) / 1048576;
  console.log(`| ${label} | ${Math.round(median(runs.map((r) => r.ms)))} | ${rss.toFixed(1)} |`);
}
await Deno.remove(dir, { recursive: true });
