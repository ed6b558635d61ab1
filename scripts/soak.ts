/**
 * `deno task soak [SECONDS] [CLIENTS]`: a long mixed run against a real remote (default 180 s,
 * 40 clients). Many users with limits, random connects and disconnects, mixed transfer sizes,
 * straight over Trojan. Reports errors, the remote's RSS over time, and accounting: the bytes
 * clients saw against what the database counted.
 *
 * Half the users' clients also hang up mid-download at random. The remote charges what it
 * handed to their TCP connections, so what sat in the two kernels' socket buffers at the
 * hang-up is charged but never read; those users are reported apart, with the excess per cut.
 */
import { RemoteFixture } from "../tests/_harness.ts";
import { encodeTrojanHeader, trojanToken } from "../lib/protocol/trojan.ts";
import { rssMiB } from "../tests/hardening/_helpers.ts";
import { writeAll } from "../lib/common/net/conn_io.ts";

const seconds = Number(Deno.args[0] ?? 180);
const clients = Number(Deno.args[1] ?? 40);
const USERS = 20;

/** Origin protocol: the client sends "DOWN UP\n" and UP bytes; the origin answers DOWN bytes. */
function startOrigin(): { port: number; close(): void } {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const block = new Uint8Array(64 * 1024).fill(0x5a);
  (async () => {
    for await (const conn of listener) {
      (async () => {
        const buffer = new Uint8Array(64 * 1024);
        let line = "";
        let extra = 0;
        while (!line.includes("\n")) {
          const n = await conn.read(buffer);
          if (n === null) return;
          const text = new TextDecoder("latin1").decode(buffer.subarray(0, n));
          const cut = text.indexOf("\n");
          line += cut >= 0 ? text.slice(0, cut + 1) : text;
          if (cut >= 0) extra = n - cut - 1;
        }
        const [down = 0, up = 0] = line.trim().split(" ").map(Number);
        let read = extra;
        while (read < up) {
          const n = await conn.read(buffer);
          if (n === null) return;
          read += n;
        }
        for (let sent = 0; sent < down;) {
          sent += await conn.write(block.subarray(0, Math.min(block.length, down - sent)));
        }
      })().catch(() => {}).finally(() => {
        try {
          conn.close();
        } catch {
          // closed by the client
        }
      });
    }
  })().catch(() => {});
  return { port: listener.addr.port, close: () => listener.close() };
}

const SIZES = [1_000, 20_000, 200_000, 1_000_000, 4_000_000];

/** Users 2, 3, 6, 7, …: their clients sometimes hang up mid-download (limited and not). */
const hangsUp = (user: number) => user % 4 >= 2;

interface Tally {
  up: number;
  down: number;
}

async function oneTransfer(
  remote: RemoteFixture,
  ca: string,
  user: number,
  origin: number,
  tally: Tally,
): Promise<"ok" | "cut"> {
  const down = SIZES[Math.floor(Math.random() * SIZES.length)]!;
  const up = Math.random() < 0.3 ? SIZES[Math.floor(Math.random() * 3)]! : 0;
  const cutAfter = hangsUp(user) && Math.random() < 0.4
    ? Math.floor(Math.random() * down)
    : Infinity;
  const conn = await Deno.connectTls({
    hostname: "127.0.0.1",
    port: remote.port,
    caCerts: [ca],
  });
  // A transfer stuck for 60 s is an error, not a hang.
  const watchdog = setTimeout(() => conn.close(), 60_000);
  try {
    const request = new TextEncoder().encode(`${down} ${up}\n`);
    const header = encodeTrojanHeader(
      {
        token: trojanToken(`user${user}:secret-${user}`),
        command: 1,
        destination: { host: "127.0.0.1", port: origin },
      },
      request,
    );
    await writeAll(conn, header);
    tally.up += request.length;
    if (up > 0) {
      await writeAll(conn, new Uint8Array(up));
      tally.up += up;
    }
    const buffer = new Uint8Array(64 * 1024);
    let got = 0;
    while (got < down) {
      const n = await conn.read(buffer);
      if (n === null) break;
      got += n;
      tally.down += n;
      if (got >= cutAfter) return "cut";
    }
    if (got < down) throw new Error(`short transfer: ${got} of ${down}`);
    return "ok";
  } finally {
    clearTimeout(watchdog);
    try {
      conn.close();
    } catch {
      // closed
    }
  }
}

const origin = startOrigin();
const users = Object.fromEntries(
  Array.from({ length: USERS }, (_, i) => [`user${i}`, `secret-${i}`]),
);
console.log(`soak: setting up ${USERS} users`);
const remote = await RemoteFixture.start(users);
console.log("soak: running");
for (let i = 0; i < USERS; i += 2) {
  await remote.user("set", `user${i}`, "--down", "4MiB", "--up", "2MiB");
}
await new Promise((r) => setTimeout(r, 1_500));
const ca = Deno.readTextFileSync(remote.certPath);
const tallies = Array.from({ length: USERS }, () => ({ up: 0, down: 0 }));
const counts = { ok: 0, cut: 0, errors: 0 };
const errors: string[] = [];
const rss: { t: number; mib: number }[] = [];
const started = performance.now();
const end = started + seconds * 1000;
const sampler = setInterval(() => {
  rss.push({
    t: Math.round((performance.now() - started) / 1000),
    mib: rssMiB(remote.program.child.pid),
  });
}, 10_000);
rss.push({ t: 0, mib: rssMiB(remote.program.child.pid) });

await Promise.all(Array.from({ length: clients }, async () => {
  while (performance.now() < end) {
    const user = Math.floor(Math.random() * USERS);
    try {
      counts[await oneTransfer(remote, ca, user, origin.port, tallies[user]!)]++;
    } catch (error) {
      counts.errors++;
      if (errors.length < 10) errors.push(String(error));
    }
    await new Promise((r) => setTimeout(r, Math.random() * 200));
  }
}));
clearInterval(sampler);
rss.push({
  t: Math.round((performance.now() - started) / 1000),
  mib: rssMiB(remote.program.child.pid),
});
await new Promise((r) => setTimeout(r, 2_500)); // a couple of flushes
const db = JSON.parse(await remote.user("list", "--json")) as {
  name: string;
  bytesUp: number;
  bytesDown: number;
}[];
/** Clients' and database totals over a group of users, and the worst single user's gap. */
function compare(group: number[]) {
  const sum = { saw: 0, db: 0, sawUp: 0, dbUp: 0, worst: 0 };
  for (const i of group) {
    const row = db.find((u) => u.name === `user${i}`)!;
    const tally = tallies[i]!;
    sum.saw += tally.down + tally.up;
    sum.db += row.bytesDown + row.bytesUp;
    sum.sawUp += tally.up;
    sum.dbUp += row.bytesUp;
    const total = tally.down + tally.up;
    if (total > 0) {
      sum.worst = Math.max(sum.worst, Math.abs(row.bytesDown + row.bytesUp - total) / total);
    }
  }
  return sum;
}
const everyUser = Array.from({ length: USERS }, (_, i) => i);
const finishing = compare(everyUser.filter((i) => !hangsUp(i)));
const hangingUp = compare(everyUser.filter(hangsUp));
await remote.stop();
origin.close();

const pct = (a: number, b: number) => `${((a - b) / b * 100).toFixed(3)}%`;
console.log(`soak: ${seconds} s, ${clients} clients, ${USERS} users (half limited 4MiB/2MiB)`);
console.log(
  `transfers: ${counts.ok} complete, ${counts.cut} cut short on purpose, ${counts.errors} errors`,
);
for (const e of errors) console.log(`  error: ${e}`);
console.log(
  `users who finish every transfer: clients ${finishing.saw} B, database ${finishing.db} B ` +
    `(${pct(finishing.db, finishing.saw)}; worst user ${(finishing.worst * 100).toFixed(3)}%)`,
);
console.log(
  `users who hang up mid-download: clients read ${hangingUp.saw} B, database ${hangingUp.db} B ` +
    `(${pct(hangingUp.db, hangingUp.saw)}; ` +
    `${((hangingUp.db - hangingUp.saw) / Math.max(1, counts.cut) / 1024).toFixed(0)} KiB per cut ` +
    `left unread in socket buffers; uploads ${pct(hangingUp.dbUp, hangingUp.sawUp)})`,
);
console.log(`remote RSS MiB over time: ${rss.map((s) => `${s.t}s=${s.mib.toFixed(0)}`).join(" ")}`);
Deno.exit(counts.errors || finishing.worst > 0.01 ? 1 : 0);
