/**
 * Mux.Cool on swiftproxy-remote, driven by Debian's V2Ray 4.34 client with `"mux": {"enabled":
 * true, "concurrency": 8}` in its Trojan outbound (what v2rayN, v2rayNG and every Xray-based
 * app send with their "Mux" switch on), and by a raw TLS client speaking frames where V2Ray
 * would not misbehave on purpose. Every sub-connection must be a session of its own: byte-exact
 * data, usage, `max-conns`, kicks; a malformed tunnel or a stuck destination harms no other.
 */
import { encodeMuxFrame, MUX_COOL, MuxStatus } from "../../lib/protocol/mux_cool.ts";
import { decodeMuxFrame } from "../../lib/protocol/mux_cool.ts";
import { encodeTrojanHeader, trojanToken } from "../../lib/protocol/trojan.ts";
import { Peer } from "../../lib/common/net/peer.ts";
import { assert, assertEquals, bytes } from "../_assert.ts";
import { delay, freePort, has, randomBytes, RemoteFixture, startOrigin } from "../_harness.ts";
import type { Program } from "../_harness.ts";
import {
  assertSameBytes,
  closeQuietly,
  concatAll,
  connectionsTo,
  eventually,
  readAll,
  socksRequest,
  startConfigured,
  TcpServer,
  waitForPort,
  writeAll,
} from "../e2e/_e2e.ts";
import { EchoServer, SocksUdpClient } from "../udp/_udp.ts";

const V2RAY = "/usr/bin/v2ray";
const missing = !has(V2RAY);
const USERS = { alice: "alice-secret", bob: "bob-secret", carol: "carol-secret" };
const NAMES = Object.keys(USERS) as (keyof typeof USERS)[];

const remote = await RemoteFixture.start(USERS);
await remote.user("set", "bob", "--max-conns", "2");
const origin = startOrigin();
const echo = new EchoServer("127.0.0.1");
/** Accepts and holds each connection, reading nothing: a destination that does not read. */
const release = Promise.withResolvers<void>();
const holder = new TcpServer(() => release.promise);
const dir = await Deno.makeTempDir({ prefix: "swiftproxy-mux-remote-" });
/** One SOCKS5 port of V2Ray per user, each to its own Trojan outbound with Mux on. */
const socks = Object.fromEntries(NAMES.map((name) => [name, freePort()])) as Record<
  keyof typeof USERS,
  number
>;
let v2ray: Program | undefined;

if (!missing) {
  v2ray = startConfigured(
    V2RAY,
    {
      log: { loglevel: "warning" },
      inbounds: NAMES.map((name) => ({
        tag: name,
        listen: "127.0.0.1",
        port: socks[name],
        protocol: "socks",
        settings: { auth: "noauth", udp: true, ip: "127.0.0.1" },
      })),
      outbounds: NAMES.map((name) => ({
        tag: name,
        protocol: "trojan",
        settings: {
          servers: [{
            address: "127.0.0.1",
            port: remote.port,
            password: `${name}:${USERS[name]}`,
          }],
        },
        streamSettings: {
          network: "tcp",
          security: "tls",
          tlsSettings: {
            serverName: "localhost",
            certificates: [{ usage: "verify", certificateFile: remote.certPath }],
          },
        },
        mux: { enabled: true, concurrency: 8 },
      })),
      routing: {
        rules: NAMES.map((name) => ({ type: "field", inboundTag: [name], outboundTag: name })),
      },
    },
    `${dir}/v2ray.json`,
    (path) => ["-config", path],
  );
  await Promise.all(NAMES.map((name) => waitForPort(socks[name], () => v2ray!.output)));
}

/** `GET /bytes/size` through V2Ray as `user`; the whole response. */
async function download(user: keyof typeof USERS, size: number): Promise<Uint8Array> {
  const { conn, rep } = await socksRequest(socks[user], { host: "127.0.0.1", port: origin.port });
  assertEquals(rep, 0);
  await writeAll(conn, bytes(`GET /bytes/${size} HTTP/1.0\r\nHost: origin\r\n\r\n`));
  const response = await readAll(conn);
  conn.close();
  return response;
}

function body(response: Uint8Array): Uint8Array {
  const text = new TextDecoder().decode(response.subarray(0, 300));
  assert(/^HTTP\/1\.[01] 200/.test(text), text);
  return response.subarray(text.indexOf("\r\n\r\n") + 4);
}

/** The remote's access lines for `user`'s TCP sessions: destination and bytes. */
function accessLines(
  user: string,
): { destination: string; up: number; down: number; why: string }[] {
  const pattern = new RegExp(
    `${user} \\S+ -> (\\S+) up=(\\d+) down=(\\d+) \\d+ms closed: (\\S+)`,
    "g",
  );
  return [...remote.program.output.matchAll(pattern)].map((m) => ({
    destination: m[1]!,
    up: Number(m[2]),
    down: Number(m[3]),
    why: m[4]!,
  }));
}

interface UserRow {
  name: string;
  bytesUp: number;
  bytesDown: number;
  openConns: number;
}

/** `user`'s row of `user list --json`, once `ready` holds for it (within 5 s) or as it is then. */
async function usage(user: string, ready: (row: UserRow) => boolean): Promise<UserRow> {
  const deadline = Date.now() + 5_000;
  for (;;) {
    const rows = JSON.parse(await remote.user("list", "--json")) as UserRow[];
    const row = rows.find((row) => row.name === user)!;
    if (ready(row) || Date.now() > deadline) return row;
    await delay(200);
  }
}

/** Opens a SOCKS5 connection through V2Ray as `user` to the holder, which never answers. */
async function hold(user: keyof typeof USERS): Promise<Deno.TcpConn> {
  const { conn, rep } = await socksRequest(socks[user], { host: "127.0.0.1", port: holder.port });
  assertEquals(rep, 0);
  await writeAll(conn, bytes("hello"));
  return conn;
}

/** Resolves with how a connection ended: "closed" (EOF or reset) or "open" after `ms`. */
async function endsWithin(conn: Deno.Conn, ms: number): Promise<"closed" | "open"> {
  const timer = delay(ms).then(() => "open" as const);
  const read = conn.read(new Uint8Array(1024)).then(
    () => "closed" as const,
    () => "closed" as const,
  );
  return await Promise.race([read, timer]);
}

Deno.test({
  name:
    "V2Ray's mux: 8 parallel downloads byte-exact over one tunnel, each a session counted to the byte",
  ignore: missing,
  async fn() {
    const sizes = [1, 1000, 65_536, 200_000, 333_333, 500_000, 1_000_000, 2_000_000];
    const responses = await Promise.all(sizes.map((size) => download("alice", size)));
    for (const [i, response] of responses.entries()) {
      await assertSameBytes(
        body(response),
        randomBytes(sizes[i]!),
        `download of ${sizes[i]} bytes`,
      );
    }
    assertEquals(connectionsTo(remote.port), 1, "one TLS connection carries all eight");
    // one access line per sub-connection, to the origin, never to v1.mux.cool
    await eventually(() => accessLines("alice").length === 8, "8 access lines for alice");
    const lines = accessLines("alice");
    assert(lines.every((line) => line.destination === `127.0.0.1:${origin.port}`), "destinations");
    assert(!remote.program.output.includes(MUX_COOL.host), "the tunnel logged as a destination");
    const moved = responses.reduce((n, response) => n + response.length, 0);
    assertEquals(lines.reduce((n, line) => n + line.down, 0), moved, "down bytes in access lines");
    // usage in the database: the bytes relayed, to the byte (flushed within a second)
    const up = lines.reduce((n, line) => n + line.up, 0);
    const used = await usage("alice", (row) => row.bytesDown === moved);
    assertEquals([used.bytesUp, used.bytesDown], [up, moved]);
  },
});

Deno.test({
  name: "V2Ray's mux: a UDP exchange as a UDP sub-connection, byte-exact",
  ignore: missing,
  async fn() {
    const client = await SocksUdpClient.open(socks.alice);
    try {
      for (const size of [1, 512, 1400, 2000]) {
        const payload = randomBytes(size, size);
        await client.send({ host: "127.0.0.1", port: echo.port }, payload);
        const echoed = await client.receive(5000);
        assert(echoed, `no echo of ${size} bytes`);
        await assertSameBytes(echoed.payload, payload, `datagram of ${size} bytes`);
      }
      assertEquals(echo.datagrams, 4);
    } finally {
      client.close();
    }
  },
});

Deno.test({
  name:
    "V2Ray's mux: each sub-connection counts for the user's max-conns; the extra one is refused",
  ignore: missing,
  async fn() {
    const before = holder.accepts;
    const held = [await hold("bob"), await hold("bob")];
    await eventually(() => holder.accepts === before + 2, "two connections held");
    const extra = await hold("bob");
    assertEquals(await endsWithin(extra, 5_000), "closed", "the third sub-connection");
    extra.close();
    assertEquals(holder.accepts, before + 2, "the third one was dialled");
    await eventually(
      () => /refused bob from \S+: too many connections/.test(remote.program.output),
      "the refusal's log line",
    );
    // the open sessions the server writes (what `user list`, the panel and metrics show)
    assertEquals((await usage("bob", (row) => row.openConns === 2)).openConns, 2);
    // the two held ones are unharmed, and closing one makes room
    closeQuietly(held[0]!);
    await eventually(() => accessLines("bob").length === 1, "the first held session's end");
    const response = await download("bob", 10_000);
    await assertSameBytes(body(response), randomBytes(10_000), "after room was made");
    closeQuietly(held[1]!);
  },
});

Deno.test({
  name: "V2Ray's mux: disabling a user ends every one of their sub-connections",
  ignore: missing,
  async fn() {
    const held = await Promise.all([hold("carol"), hold("carol"), hold("carol")]);
    await eventually(() => holder.accepts >= 3, "three connections held");
    await remote.user("disable", "carol");
    const ends = await Promise.all(held.map((conn) => endsWithin(conn, 5_000)));
    assertEquals(ends, ["closed", "closed", "closed"]);
    held.forEach(closeQuietly);
    await eventually(() => accessLines("carol").length === 3, "three access lines for carol");
    assert(accessLines("carol").every((line) => line.why === "aborted"), remote.program.output);
    await remote.user("enable", "carol");
  },
});

/** A raw Mux.Cool client over TLS as alice: writes frames, reads them into per-session lists. */
class RawMuxClient {
  readonly conn: Deno.TlsConn;
  readonly peer: Peer;
  readonly data = new Map<number, Uint8Array[]>();
  readonly ends = new Map<number, boolean>();
  /** The port of each UDP reply's source, as its Keep frame names it. */
  readonly sources: number[] = [];
  closed = false;
  readonly reading: Promise<void>;

  private constructor(conn: Deno.TlsConn) {
    this.conn = conn;
    const peer = new Peer(conn);
    this.peer = peer;
    this.reading = (async () => {
      try {
        for (;;) {
          const frame = await peer.readFrame(decodeMuxFrame);
          if (frame.data?.length && frame.status === MuxStatus.keep) {
            this.data.set(frame.id, [...this.data.get(frame.id) ?? [], frame.data.slice()]);
            if (frame.target) this.sources.push(frame.target.port);
          }
          if (frame.status === MuxStatus.end) this.ends.set(frame.id, frame.error);
        }
      } catch {
        this.closed = true;
      }
    })();
  }

  static async open(first: Uint8Array[]): Promise<RawMuxClient> {
    const conn = await Deno.connectTls({
      hostname: "127.0.0.1",
      port: remote.port,
      caCerts: [await Deno.readTextFile(remote.certPath)],
    });
    const header = encodeTrojanHeader({
      token: trojanToken("alice:alice-secret"),
      command: 1,
      destination: MUX_COOL,
    });
    await writeAll(conn, concatAll([header, ...first]));
    return new RawMuxClient(conn);
  }

  received(id: number): Uint8Array {
    return concatAll(this.data.get(id) ?? []);
  }
}

const open = (id: number, port: number, data?: Uint8Array) =>
  encodeMuxFrame({
    id,
    status: MuxStatus.new,
    error: false,
    target: { network: "tcp", host: "127.0.0.1", port },
    ...(data ? { data } : {}),
  });
const get = (size: number) => bytes(`GET /bytes/${size} HTTP/1.0\r\nHost: origin\r\n\r\n`);

Deno.test({
  name: "a malformed Mux.Cool frame ends that tunnel with a log line; the server keeps serving",
  ignore: missing,
  async fn() {
    // a valid session, then a frame whose metadata length (2) no Mux.Cool peer sends
    const client = await RawMuxClient.open([open(1, origin.port, get(1000)), bytes([0, 2, 0, 1])]);
    await eventually(() => client.closed, "the tunnel closed", 5_000);
    await client.reading;
    client.conn.close();
    await remote.program.waitFor(/mux tunnel of alice from \S+: expected Mux\.Cool metadata/);
    // the process is alive and serves the next tunnel
    const response = await download("alice", 50_000);
    await assertSameBytes(body(response), randomBytes(50_000), "after the malformed tunnel");
  },
});

Deno.test({
  name: "a sub-connection whose destination stops reading is closed alone; the others go on",
  ignore: missing,
  async fn() {
    const size = 3_000_000;
    const client = await RawMuxClient.open([open(1, origin.port, get(size)), open(2, holder.port)]);
    // 64 MiB for the destination that reads nothing, then a new session behind all of it
    const chunk = randomBytes(16 * 1024, 7);
    const total = 64 * 1024 * 1024;
    let sent = 0;
    let sentAtEnd = -1;
    const flood = (async () => {
      for (; sent < total; sent += chunk.length) {
        if (sentAtEnd < 0 && client.ends.has(2)) sentAtEnd = sent;
        await writeAll(
          client.conn,
          encodeMuxFrame({ id: 2, status: MuxStatus.keep, error: false, data: chunk }),
        );
      }
      await writeAll(client.conn, open(3, origin.port, get(1000)));
    })();
    // the download opened first flows while the tunnel's reader waits on session 2
    await eventually(() => client.ends.has(1), "session 1's End", 10_000);
    assert(!client.ends.has(2), "session 2 ended before session 1 finished");
    await assertSameBytes(body(client.received(1)), randomBytes(size), "session 1's download");
    // session 2 is closed alone, with the error bit, after taking nothing for a while
    await eventually(() => client.ends.has(2), "session 2's End", 15_000);
    assertEquals(client.ends.get(2), true, "End with the error bit");
    await flood;
    await eventually(() => client.ends.has(3), "session 3's End", 10_000);
    await assertSameBytes(body(client.received(3)), randomBytes(1000), "session 3's download");
    // until session 2 was closed, the tunnel took what the kernels' buffers and the bounded
    // queues hold, not the whole flood
    assert(sentAtEnd > 0 && sentAtEnd < total / 2, `${sentAtEnd} bytes were taken first`);
    assert(/closing sub-connection 2 of alice to 127\.0\.0\.1:\d+: it took no data/.test(
      remote.program.output,
    ));
    client.conn.close();
    await client.reading;
  },
});

Deno.test({
  name:
    "a UDP sub-connection sends each Xray datagram to its own address; replies name their source",
  ignore: missing,
  async fn() {
    const other = new EchoServer("127.0.0.1");
    const udp = (status: MuxStatus, port: number, data: Uint8Array) =>
      encodeMuxFrame({
        id: 1,
        status,
        error: false,
        target: { network: "udp", host: "127.0.0.1", port },
        data,
      });
    const first = randomBytes(100, 3);
    const client = await RawMuxClient.open([udp(MuxStatus.new, echo.port, first)]);
    try {
      await eventually(() => client.received(1).length === 100, "the first echo");
      await assertSameBytes(client.received(1), first, "the first echo");
      // Xray puts an address on every UDP Keep frame: this one goes to another server, and a
      // reply over V2Ray's 2,048 bytes may come back to a client that has shown it is Xray
      const second = randomBytes(3000, 4);
      await writeAll(client.conn, udp(MuxStatus.keep, other.port, second));
      await eventually(() => client.received(1).length === 3100, "the second echo");
      await assertSameBytes(client.received(1).subarray(100), second, "the second echo");
      assertEquals(client.sources, [echo.port, other.port]);
    } finally {
      client.conn.close();
      await client.reading;
      await other.close();
    }
  },
});

Deno.test("teardown", async () => {
  await v2ray?.stop();
  await remote.stop();
  release.resolve();
  await Promise.all([origin.close(), echo.close(), holder.close()]);
  await Deno.remove(dir, { recursive: true });
});
