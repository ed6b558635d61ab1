/**
 * What rules cost the local at start: the time from spawning `local.ts` to its proxy port
 * accepting a connection, and its resident set a second later, with no rules, with 100,000
 * domain rules, and with `--direct-country CN` (the GeoIP database loads). The remote named is
 * a closed loopback port and the pool is off (`--preconnect 0`): nothing is dialled.
 *
 * ```sh
 * flock -o /work/bench.lock deno run -A scripts/bench/rules_startup.ts [--runs N] [--rules N]
 * ```
 *
 * `deno task bench --rules` (`rules_run.ts`) calls {@linkcode startupCosts}.
 */
import { parseArgs } from "node:util";
import { fileURLToPath } from "node:url";
import { freePort } from "./peers.ts";
import { median } from "./page_load.ts";
import { domainRuleLines } from "./rules_names.ts";

const ROOT = fileURLToPath(new URL("../../", import.meta.url));

/** One way of starting the local: a label and the flags that make it. */
export interface StartupCase {
  label: string;
  flags: string[];
}

/** A case's medians: ms to the port accepting, resident set (bytes) a second later. */
export interface StartupCost {
  label: string;
  ms: number;
  rss: number;
  /** Every start's ms, in order. */
  times: number[];
}

/**
 * The three cases, their rules file written into `dir`: no rules; `rules` `DOMAIN-SUFFIX`
 * rules and a `MATCH`; `--direct-country CN`.
 */
export async function startupCases(dir: string, rules: number): Promise<StartupCase[]> {
  const file = `${dir}/startup-rules.yaml`;
  await Deno.writeTextFile(
    file,
    ["rules:", ...domainRuleLines(rules), "  - MATCH,PROXY"].join("\n") + "\n",
  );
  return [
    { label: "no rules", flags: [] },
    { label: `${rules.toLocaleString("en")} DOMAIN-SUFFIX rules`, flags: ["--rules", file] },
    { label: "`--direct-country CN` (GeoIP)", flags: ["--direct-country", "CN"] },
  ];
}

/** Waits until `port` accepts, polling every 2 ms; throws when the child exits first. */
async function accepting(port: number, exited: () => boolean, ms = 120_000): Promise<void> {
  const deadline = performance.now() + ms;
  while (performance.now() < deadline) {
    try {
      (await Deno.connect({ hostname: "127.0.0.1", port })).close();
      return;
    } catch {
      if (exited()) throw new Error("the local exited before listening");
      await new Promise((resolve) => setTimeout(resolve, 2));
    }
  }
  throw new Error(`the local did not listen within ${ms} ms`);
}

/** One start: ms from spawn to the port accepting, and the resident set a second after. */
async function startOnce(dir: string, flags: string[]): Promise<{ ms: number; rss: number }> {
  const port = freePort();
  const started = performance.now();
  const child = new Deno.Command(Deno.execPath(), {
    args: [
      "run",
      "-q",
      "-P=local",
      `${ROOT}local.ts`,
      "--listen",
      `127.0.0.1:${port}`,
      "--remote",
      `127.0.0.1:${freePort()}`,
      "--user",
      "bench",
      "--no-ui",
      "--preconnect",
      "0",
      "--log-level",
      "warning",
      "--config",
      `${dir}/startup-local.json`,
      ...flags,
    ],
    env: { SWIFTPROXY_PASSWORD: "bench-password", NO_COLOR: "1" },
    stdin: "null",
    stdout: "null",
    stderr: "null",
  }).spawn();
  let exited = false;
  const status = child.status.finally(() => exited = true);
  try {
    await accepting(port, () => exited);
    const ms = performance.now() - started;
    await new Promise((resolve) => setTimeout(resolve, 1000));
    const text = await Deno.readTextFile(`/proc/${child.pid}/status`);
    const rss = Number(/VmRSS:\s+(\d+) kB/.exec(text)?.[1] ?? NaN) * 1024;
    return { ms, rss };
  } finally {
    if (!exited) child.kill("SIGTERM");
    await status;
  }
}

/**
 * Each case started `runs` times, one start at a time; medians per case. One start of the first
 * case goes first, not counted: Deno's caches (modules, npm packages) are warm for every row.
 */
export async function startupCosts(
  dir: string,
  cases: StartupCase[],
  runs: number,
): Promise<StartupCost[]> {
  if (cases[0]) await startOnce(dir, cases[0].flags);
  const costs: StartupCost[] = [];
  for (const { label, flags } of cases) {
    const starts = [];
    for (let i = 0; i < runs; i++) starts.push(await startOnce(dir, flags));
    const times = starts.map((s) => s.ms);
    costs.push({ label, ms: median(times), rss: median(starts.map((s) => s.rss)), times });
  }
  return costs;
}

if (import.meta.main) {
  const { values } = parseArgs({
    options: {
      runs: { type: "string", default: "5" },
      rules: { type: "string", default: "100000" },
    },
  });
  const dir = await Deno.makeTempDir({ prefix: "swiftproxy-rules-startup-" });
  try {
    const costs = await startupCosts(
      dir,
      await startupCases(dir, Number(values.rules)),
      Number(values.runs),
    );
    console.log(`| local started with | to the port accepting, ms (median) | resident set, MiB |`);
    console.log("| --- | --- | --- |");
    for (const c of costs) {
      console.log(`| ${c.label} | ${Math.round(c.ms)} | ${(c.rss / 1048576).toFixed(1)} |`);
    }
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}
