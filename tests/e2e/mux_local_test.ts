/**
 * `--mux N` on swiftproxy-local against swiftproxy-remote, both real programs: app connections
 * ride as Mux.Cool sub-connections on at most N TLS tunnels, byte-exact; each one is still a
 * session of the remote (kicks, quota, `max-conns`); a reader that stops reading costs the
 * others a bounded stall; a tunnel that dies takes its sub-connections with a clear outcome and
 * the next connections get a new one; UDP associations ride too.
 */
import { assert, assertEquals } from "../_assert.ts";
import { curl, delay, LocalFixture, randomBytes, RemoteFixture, startOrigin } from "../_harness.ts";
import { assertSameBytes, connectionsTo, eventually, socksRequest, writeAll } from "./_e2e.ts";
import {
  command,
  Counter,
  DOWNLOAD,
  download,
  KiB,
  MiB,
  startEndpoint,
} from "../limits/_traffic.ts";
import { EchoServer, SocksUdpClient } from "../udp/_udp.ts";

const USERS = {
  alice: "alice-secret",
  bob: "bob-secret-1",
  carol: "carol-secret",
  dave: "dave-secret-1",
  erin: "erin-secret-1",
  frank: "frank-secret-1",
};
const remote = await RemoteFixture.start(USERS);
const origin = startOrigin();
const endpoint = startEndpoint();
/** `--preconnect 0`: every TLS connection to the remote is a mux tunnel in use. */
const MUX2 = ["--mux", "2", "--preconnect", "0"];
const locals: LocalFixture[] = [];

async function localAs(user: keyof typeof USERS, args = MUX2): Promise<LocalFixture> {
  const local = await LocalFixture.start(remote, user, USERS[user], args);
  locals.push(local);
  return local;
}

const alice = await localAs("alice");

function get(local: LocalFixture, size: number, ...args: string[]) {
  return curl(
    ...args,
    "-x",
    `socks5h://${local.address}`,
    `http://127.0.0.1:${origin.port}/bytes/${size}`,
  );
}

Deno.test("--mux 2: a burst of 16 connections opens both tunnels, 8 on each", async () => {
  const erin = await localAs("erin");
  const before = connectionsTo(remote.port);
  await remote.user("set", "erin", "--down", "256KiB");
  await delay(300);
  const stop = new AbortController();
  const counters = Array.from({ length: 16 }, () => new Counter());
  const held = counters.map((c) => download(erin.port, endpoint, 64 * MiB, c, stop.signal));
  try {
    await eventually(() => counters.every((c) => c.total > 0), "sixteen downloads flowing");
    // the opens of the burst count against a tunnel as they are made, not once it is dialled
    assertEquals(connectionsTo(remote.port) - before, 2, "TLS connections to the remote");
  } finally {
    stop.abort();
    await Promise.all(held);
  }
});

Deno.test("--mux 2: 16 parallel downloads byte-exact over at most 2 TLS connections", async () => {
  const sizes = [0, 1, 1000, 16_384, 65_536, 100_000, 250_000, 500_000, 1_000_000, 2_000_000];
  sizes.push(3_000_000, 7, 77, 777, 7_777, 4_000_000);
  const before = connectionsTo(remote.port);
  let most = 0;
  const watching = setInterval(() => most = Math.max(most, connectionsTo(remote.port)), 20);
  try {
    const results = await Promise.all(sizes.map((size) => get(alice, size)));
    for (const [i, result] of results.entries()) {
      assertEquals(result.code, 0, result.stderr);
      await assertSameBytes(result.body, randomBytes(sizes[i]!), `download of ${sizes[i]} bytes`);
    }
  } finally {
    clearInterval(watching);
  }
  // alice's local had none open before (other users' locals may have theirs)
  const opened = most - before;
  assert(opened >= 1 && opened <= 2, `${opened} TLS connections to the remote, expected 1 or 2`);
  // the HTTP proxy port rides the same tunnels: a forwarded request and a CONNECT
  const forwarded = await curl(
    "-x",
    `http://${alice.address}`,
    `http://127.0.0.1:${origin.port}/bytes/123456`,
  );
  await assertSameBytes(forwarded.body, randomBytes(123456), "a forwarded HTTP request");
  const tunnelled = await curl(
    "-p",
    "-x",
    `http://${alice.address}`,
    `http://127.0.0.1:${origin.port}/bytes/654321`,
  );
  await assertSameBytes(tunnelled.body, randomBytes(654321), "an HTTP CONNECT");
  assert(connectionsTo(remote.port) - before <= 2, "more than 2 TLS connections");
  assert(!alice.program.output.includes("tunnel-lost"), alice.program.output);
});

Deno.test("--mux 1: a reader that stops reading holds a fast download up for seconds at most, then is closed alone", async () => {
  const local = await localAs("alice", ["--mux", "1", "--preconnect", "0"]);
  // Opened first on the one tunnel, reads nothing: the remote keeps sending it data.
  const stuck = await socksConnectTo(local.port, endpoint.port);
  await writeAll(stuck, command(DOWNLOAD, 512 * MiB));
  await delay(500);
  const started = performance.now();
  const fast = await get(local, 16_000_000);
  const took = performance.now() - started;
  assertEquals(fast.code, 0, fast.stderr);
  await assertSameBytes(fast.body, randomBytes(16_000_000), "the fast download");
  // 3 s of stall at most, and the download itself (a few hundred ms alone)
  assert(took < 15_000, `the fast download took ${took} ms beside a stuck reader`);
  assertEquals(connectionsTo(remote.port) >= 1, true);
  await eventually(
    () => /its app took no data for 3000 ms/.test(local.program.output),
    "the stuck sub-connection closed",
  );
  // what the stuck one can still read is bounded: the local's queue was dropped
  const buffer = new Uint8Array(256 * KiB);
  let drained = 0;
  try {
    for (let n; (n = await stuck.read(buffer)) !== null;) drained += n;
  } catch {
    // reset: closed as well
  }
  stuck.close();
  assert(drained < 64 * MiB, `the stuck reader still got ${drained} bytes`);
  // the local told the remote (End with the error bit): the remote's session ends long before
  // its 512 MiB, rather than streaming them into a tunnel that drops them
  const line = new RegExp(`alice \\S+ -> 127\\.0\\.0\\.1:${endpoint.port} up=\\d+ down=(\\d+)`);
  await eventually(
    () => line.test(remote.program.output),
    "the remote's end of the stuck session",
    5_000,
  );
  const down = Number(line.exec(remote.program.output)![1]);
  assert(down < 128 * MiB, `the remote sent ${down} bytes for the stuck session`);
});

Deno.test("--mux 1: a slow reader and a fast one on one tunnel: the fast one is not paced by the slow one", async () => {
  const local = await localAs("alice", ["--mux", "1", "--preconnect", "0"]);
  // 2 MB read at about 400 KB/s (16 KiB every 40 ms): its backlog fits its sub-connection's queue
  const slowConn = await socksConnectTo(local.port, endpoint.port);
  await writeAll(slowConn, command(DOWNLOAD, 2 * MiB));
  const slowStarted = performance.now();
  const slow = (async () => {
    const buffer = new Uint8Array(16 * KiB);
    let total = 0;
    for (let n; total < 2 * MiB && (n = await slowConn.read(buffer)) !== null; total += n) {
      await delay(40);
    }
    slowConn.close();
    return total;
  })();
  await delay(300);
  const started = performance.now();
  const fast = await get(local, 16_000_000);
  const fastTook = performance.now() - started;
  const slowTotal = await slow;
  const slowTook = performance.now() - slowStarted;
  assertEquals(fast.code, 0, fast.stderr);
  await assertSameBytes(fast.body, randomBytes(16_000_000), "the fast download");
  assertEquals(slowTotal, 2 * MiB, "the slow download");
  assert(fastTook < slowTook / 2, `fast ${fastTook} ms, slow ${slowTook} ms`);
});

Deno.test("--mux 2: disabling a user ends every one of their sub-connections", async () => {
  const bob = await localAs("bob");
  const stop = new AbortController();
  await remote.user("set", "bob", "--down", "256KiB");
  await delay(300);
  const counters = Array.from({ length: 6 }, () => new Counter());
  const held = counters.map((c) => download(bob.port, endpoint, 64 * MiB, c, stop.signal));
  try {
    await eventually(() => counters.every((c) => c.total > 0), "six downloads flowing");
    const disabled = performance.now();
    await remote.user("disable", "bob");
    await Promise.race([Promise.all(held), delay(5_000)]);
    const ended = counters.filter((c) => c.ended !== null);
    assertEquals(ended.length, 6, "sub-connections still open 5 s after the user was disabled");
    assert(counters.every((c) => c.cut), "a download finished");
    assert(performance.now() - disabled < 5_000);
    const refused = await download(bob.port, endpoint, 64 * KiB);
    assertEquals(refused.total, 0, "a disabled user got bytes");
  } finally {
    stop.abort();
    await remote.user("enable", "bob");
  }
});

Deno.test("--mux 2: a quota reached mid-way stops every sub-connection", async () => {
  const carol = await localAs("carol");
  await remote.user("set", "carol", "--quota", "4MiB");
  await delay(400);
  const counters = await Promise.all(
    Array.from({ length: 4 }, () => download(carol.port, endpoint, 8 * MiB)),
  );
  assert(counters.every((c) => c.cut), "a download went past the quota");
  const total = counters.reduce((n, c) => n + c.total, 0);
  assert(total <= 4 * MiB + 1 * MiB, `${total} bytes came through a 4 MiB quota`);
  await remote.program.waitFor(/over quota/, 5_000);
  const refused = await download(carol.port, endpoint, 64 * KiB);
  assertEquals(refused.total, 0, "a new connection over quota got bytes");
});

Deno.test("--mux 2: each sub-connection counts for the user's max-conns", async () => {
  const dave = await localAs("dave");
  await remote.user("set", "dave", "--max-conns", "3", "--down", "64KiB");
  await delay(400);
  const stop = new AbortController();
  const counters = Array.from({ length: 3 }, () => new Counter());
  const held = counters.map((c) => download(dave.port, endpoint, 64 * MiB, c, stop.signal));
  try {
    await eventually(() => counters.every((c) => c.total > 0), "three downloads flowing");
    const extra = await download(dave.port, endpoint, 16 * KiB);
    assertEquals(extra.total, 0, "the fourth sub-connection got bytes");
    await remote.program.waitFor(/refused dave from .*: too many connections/, 5_000);
    assert(counters.every((c) => c.ended === null), "a held download was cut");
  } finally {
    stop.abort();
    await Promise.all(held);
  }
});

Deno.test("--mux 2: UDP associations ride as UDP sub-connections, to two servers, byte-exact", async () => {
  const echo = new EchoServer("127.0.0.1");
  const other = new EchoServer("127.0.0.1");
  const client = await SocksUdpClient.open(alice.port);
  try {
    for (const [server, size] of [[echo, 1], [echo, 1400], [other, 512], [echo, 4000]] as const) {
      const payload = randomBytes(size, size);
      await client.send({ host: "127.0.0.1", port: server.port }, payload);
      const echoed = await client.receive(5000);
      assert(echoed, `no echo of ${size} bytes`);
      assertEquals(echoed.source.port, server.port, "the reply's source");
      await assertSameBytes(echoed.payload, payload, `datagram of ${size} bytes`);
    }
    assertEquals([echo.datagrams, other.datagrams], [3, 1]);
  } finally {
    client.close();
    await echo.close();
    await other.close();
  }
});

Deno.test("--mux 2: a tunnel that dies ends its sub-connections (tunnel-lost); new ones get a new tunnel", async () => {
  const local = await localAs("alice");
  await remote.user("set", "alice", "--down", "256KiB");
  await delay(300);
  const stop = new AbortController();
  const counters = Array.from({ length: 3 }, () => new Counter());
  const held = counters.map((c) => download(local.port, endpoint, 64 * MiB, c, stop.signal));
  try {
    await eventually(() => counters.every((c) => c.total > 0), "three downloads flowing");
    // the remote dies (every tunnel with it, no End frame) and comes back on the same port
    await remote.program.stop("SIGKILL");
    await Promise.race([Promise.all(held), delay(5_000)]);
    assert(
      counters.every((c) => c.cut && c.ended !== null),
      "a sub-connection outlived its tunnel",
    );
    await eventually(
      () => (local.program.output.match(/closed: tunnel-lost/g) ?? []).length === 3,
      "three access lines with tunnel-lost",
    );
    await remote.serve();
    await remote.user("set", "alice", "--down", "0");
    const again = await get(local, 300_000);
    assertEquals(again.code, 0, again.stderr);
    await assertSameBytes(again.body, randomBytes(300_000), "a download on the new tunnel");
  } finally {
    stop.abort();
    await Promise.all(held);
  }
});

Deno.test("--mux 2 with --rules: DIRECT goes straight out, PROXY rides a mux tunnel", async () => {
  const dir = await Deno.makeTempDir({ prefix: "swiftproxy-mux-rules-" });
  try {
    await Deno.writeTextFile(
      `${dir}/rules.yaml`,
      `rules:\n  - DST-PORT,${origin.port},DIRECT\n  - MATCH,PROXY\n`,
    );
    const before = connectionsTo(remote.port);
    const frank = await localAs("frank", [...MUX2, "--rules", `${dir}/rules.yaml`]);
    const direct = await get(frank, 300_000);
    assertEquals(direct.code, 0, direct.stderr);
    await assertSameBytes(direct.body, randomBytes(300_000), "the direct download");
    const proxied = await download(frank.port, endpoint, 2 * MiB);
    assert(!proxied.cut, `the proxied download got ${proxied.total} bytes`);
    assertEquals(connectionsTo(remote.port) - before, 1, "one mux tunnel for the proxied one");
    const franks = () => remote.program.output.split("\n").filter((l) => /frank \S+ -> /.test(l));
    await eventually(() => franks().length > 0, "the remote's access line for frank");
    const lines = franks();
    assertEquals(lines.length, 1, lines.join("\n"));
    assert(lines[0]!.includes(`127.0.0.1:${endpoint.port}`), lines[0]);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

/** A SOCKS5 CONNECT to 127.0.0.1:`port` through the proxy, answered. */
async function socksConnectTo(proxy: number, port: number): Promise<Deno.TcpConn> {
  const { conn, rep } = await socksRequest(proxy, { host: "127.0.0.1", port });
  assertEquals(rep, 0);
  return conn;
}

Deno.test("teardown", async () => {
  for (const local of locals) await local.stop();
  await remote.stop();
  await origin.close();
  endpoint.close();
});
