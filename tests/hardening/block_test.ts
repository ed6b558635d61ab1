/**
 * Destination block lists and the BitTorrent block, through the real remote.ts: the server's
 * `--block FILE`, a user's `user set NAME --block FILE|none` while serve runs, and
 * `--block-bittorrent`, for TCP (curl through a local, raw tunnels) and UDP (Trojan UDP frames).
 */
import { assert, assertEquals } from "../_assert.ts";
import {
  curl,
  delay,
  freePort,
  LocalFixture,
  remoteArgs,
  RemoteFixture,
  runProgram,
  startOrigin,
} from "../_harness.ts";
import { TcpServer } from "../_net.ts";
import { EchoServer, TrojanUdpClient } from "../udp/_udp.ts";
import { Peer } from "../../lib/common/net/peer.ts";
import { encodeTrojanHeader, TrojanCommand, trojanToken } from "../../lib/protocol/trojan.ts";
import type { Destination } from "../../lib/protocol/address.ts";

const text = new TextEncoder();
const HANDSHAKE = text.encode(
  "\x13BitTorrent protocol\0\0\0\0\0\x10\0\x05" + "i".repeat(20) + "-qB4650-" + "p".repeat(12),
);

/** A raw CONNECT tunnel to the remote: the header alone (or with `first`), then what we write. */
async function tunnel(remote: RemoteFixture, destination: Destination, first = new Uint8Array()) {
  const conn = await Deno.connectTls({
    hostname: "127.0.0.1",
    port: remote.port,
    caCerts: [Deno.readTextFileSync(remote.certPath)],
  });
  const peer = new Peer(conn);
  await peer.write(encodeTrojanHeader({
    token: trojanToken("alice:alice-secret"),
    command: TrojanCommand.connect,
    destination,
  }, first));
  /** Everything received until the remote closes or `ms` pass, and whether it closed. */
  const drain = async (ms = 1500) => {
    const chunks: number[] = [];
    let closed = false;
    const timer = setTimeout(() => peer.close(), ms);
    try {
      for (let chunk; (chunk = await peer.read()) !== null;) chunks.push(...chunk);
      closed = true;
    } catch {
      closed = !peer.closed;
    } finally {
      clearTimeout(timer);
    }
    peer.close();
    return { bytes: new Uint8Array(chunks), closed };
  };
  return { peer, drain };
}

/** The first datagram back within `ms`, or null. */
async function echoed(client: TrojanUdpClient, to: Destination, payload: Uint8Array, ms = 700) {
  await client.send(to, payload);
  return (await client.receive(ms))?.payload ?? null;
}

/** Whether curl through `local` (socks5h) reaches `url` and gets the origin's greeting. */
async function reaches(local: LocalFixture, url: string): Promise<boolean> {
  const result = await curl("--max-time", "5", "-x", `socks5h://${local.address}`, url);
  return new TextDecoder().decode(result.body).includes("says hello");
}

/** The value of `name{labels}` in the exposition text, or 0. */
function sample(exposition: string, name: string, labels: string): number {
  const line = exposition.split("\n").find((l) => l.startsWith(`${name}{${labels}}`));
  return line ? Number(line.split(" ").at(-1)) : 0;
}

Deno.test("block lists and --block-bittorrent, through the real remote", async (t) => {
  const dir = await Deno.makeTempDir({ prefix: "swiftproxy-block-" });
  const serverList = `${dir}/server.txt`;
  await Deno.writeTextFile(
    serverList,
    "# names, checked before resolving\nlocalhost\n+.blocked.test\n# an address\n127.0.0.2\n",
  );
  const origin = startOrigin("127.0.0.1");
  const other = startOrigin("127.0.0.2");
  const otherAccepts = new TcpServer(async () => {}, "127.0.0.2");
  const echo = new TcpServer((conn) => conn.readable.pipeTo(conn.writable));
  const received: number[] = [];
  const counting = new TcpServer(async (conn) => {
    const buffer = new Uint8Array(4096);
    for (let n; (n = await conn.read(buffer)) !== null;) received.push(n);
  });
  const banner = new TcpServer(async (conn) => {
    await conn.write(text.encode("220 banner first\r\n"));
    await conn.read(new Uint8Array(64));
  });
  const udpEcho = new EchoServer("127.0.0.1");
  const udpOther = new EchoServer("127.0.0.2");
  const admin = freePort();
  const remote = await RemoteFixture.start({ alice: "alice-secret" }, [
    "--block",
    serverList,
    "--block-bittorrent",
    "--admin",
    `127.0.0.1:${admin}`,
  ]);
  const local = await LocalFixture.start(remote);
  const metrics = async () => await (await fetch(`http://127.0.0.1:${admin}/metrics`)).text();
  try {
    await t.step("--block: a name and an address refused, others through (TCP)", async () => {
      assert(await reaches(local, `http://127.0.0.1:${origin.port}/`), "127.0.0.1 passes");
      assert(await reaches(local, `http://vm:${origin.port}/`), "vm (127.0.0.1) passes");
      assert(!await reaches(local, `http://localhost:${origin.port}/`), "localhost is refused");
      assert(!await reaches(local, `http://127.0.0.2:${other.port}/`), "127.0.0.2 is refused");
      // Refused by name before resolving: a name that does not resolve is "blocked", not
      // "unresolved".
      assert(!await reaches(local, `http://www.blocked.test:${origin.port}/`));
      const raw = await tunnel(remote, { host: "127.0.0.2", port: otherAccepts.port });
      assertEquals((await raw.drain()).bytes.length, 0);
      assertEquals(otherAccepts.accepts, 0, "nothing reached 127.0.0.2");
      const out = remote.program.output;
      for (let i = 0; i < 30 && (out.match(/closed: blocked/g)?.length ?? 0) < 4; i++) {
        await delay(100);
      }
      assertEquals(remote.program.output.match(/closed: blocked/g)?.length, 4, out);
      assert(!/blocked\.test.*unresolved/.test(remote.program.output));
      const m = await metrics();
      assertEquals(
        sample(m, "swiftproxy_user_blocked_total", 'user="alice",reason="server_list"'),
        4,
        m,
      );
      assertEquals(sample(m, "swiftproxy_connections_total", 'result="blocked"'), 4);
    });

    await t.step("--block: UDP datagrams to a blocked name or address are dropped", async () => {
      const client = await TrojanUdpClient.open(remote, "alice:alice-secret");
      try {
        const hello = text.encode("hello over udp");
        assertEquals(await echoed(client, { host: "127.0.0.1", port: udpEcho.port }, hello), hello);
        assertEquals(await echoed(client, { host: "vm", port: udpEcho.port }, hello), hello);
        assertEquals(await echoed(client, { host: "localhost", port: udpEcho.port }, hello), null);
        assertEquals(await echoed(client, { host: "127.0.0.2", port: udpOther.port }, hello), null);
        assertEquals(udpOther.datagrams, 0, "nothing reached 127.0.0.2");
        assertEquals(udpEcho.datagrams, 2);
      } finally {
        client.close();
      }
    });

    await t.step(
      "--block-bittorrent: TCP handshakes refused, by their first bytes only",
      async () => {
        // With the header: refused before any dial.
        let raw = await tunnel(remote, { host: "127.0.0.1", port: echo.port }, HANDSHAKE);
        let end = await raw.drain();
        assertEquals(end.bytes.length, 0);
        assert(end.closed, "the remote closed the tunnel");
        assertEquals(echo.accepts, 0, "no dial for a handshake sent with the header");

        // After the header, and split in two writes: the first bytes are read until they decide.
        raw = await tunnel(remote, { host: "127.0.0.1", port: counting.port });
        await delay(100);
        await raw.peer.write(HANDSHAKE.subarray(0, 5));
        await delay(100);
        await raw.peer.write(HANDSHAKE.subarray(5));
        end = await raw.drain();
        assert(end.closed, "the remote closed the tunnel");
        assertEquals(received, [], "not a byte of the handshake reached the destination");

        // An ordinary stream carrying the same bytes later passes untouched.
        const ordinary = new Uint8Array([...text.encode("hello, "), ...HANDSHAKE]);
        raw = await tunnel(remote, { host: "127.0.0.1", port: echo.port }, ordinary.subarray(0, 7));
        await delay(100);
        await raw.peer.write(ordinary.subarray(7));
        await delay(300);
        await raw.peer.conn.closeWrite();
        end = await raw.drain();
        assertEquals(end.bytes, ordinary);

        // A protocol where the server speaks first is not held back waiting for the client.
        raw = await tunnel(remote, { host: "127.0.0.1", port: banner.port });
        const started = performance.now();
        const first = await raw.peer.read();
        const ms = performance.now() - started;
        raw.peer.close();
        assertEquals(new TextDecoder().decode(first!), "220 banner first\r\n");
        assert(ms < 1000, `the banner came in ${ms.toFixed(0)} ms`);

        const m = await metrics();
        assertEquals(
          sample(m, "swiftproxy_user_blocked_total", 'user="alice",reason="bittorrent"'),
          2,
        );
      },
    );

    await t.step("--block-bittorrent: DHT, UDP tracker and uTP SYN datagrams dropped", async () => {
      const client = await TrojanUdpClient.open(remote, "alice:alice-secret");
      const to = { host: "127.0.0.1", port: udpEcho.port };
      const before = udpEcho.datagrams;
      try {
        const dht = text.encode("d1:ad2:id20:abcdefghij0123456789e1:q4:ping1:t2:aa1:y1:qe");
        const reply = text.encode("d2:ip6:abcdef1:rd2:id20:abcdefghij0123456789e1:t2:aa1:y1:re");
        const tracker = Uint8Array.of(
          0,
          0,
          4,
          0x17,
          0x27,
          0x10,
          0x19,
          0x80,
          0,
          0,
          0,
          0,
          1,
          2,
          3,
          4,
        );
        const syn = new Uint8Array(20);
        syn[0] = 0x41;
        syn.set([0x12, 0x34, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x10], 2);
        for (const datagram of [dht, reply, tracker, syn]) {
          assertEquals(await echoed(client, to, datagram, 400), null, String(datagram[0]));
        }
        // A datagram with a uTP-like first byte and a payload (a QUIC short header, say) passes.
        const quicLike = new Uint8Array(40).fill(7);
        quicLike[0] = 0x41;
        quicLike[1] = 0;
        assertEquals(await echoed(client, to, quicLike), quicLike);
        assertEquals(udpEcho.datagrams - before, 1, "only the ordinary datagram arrived");
      } finally {
        client.close();
      }
    });

    await t.step(
      "user set --block FILE|none: the user's own list, applied while serve runs",
      async () => {
        const own = `${dir}/alice.txt`;
        // vm resolves to 127.0.0.1: refused by its address, though its name is on no list.
        await Deno.writeTextFile(own, "IP-CIDR,127.0.0.1/32\n");
        const listed = async () =>
          JSON.parse(await remote.user("list", "--json"))[0].blockList as boolean;
        assertEquals(await listed(), false);
        await remote.user("set", "alice", "--block", own);
        assertEquals(await listed(), true);
        let started = performance.now();
        while (await reaches(local, `http://vm:${origin.port}/`)) {
          assert(performance.now() - started < 3000, "the list applies within a second or so");
          await delay(100);
        }
        const applied = performance.now() - started;
        assertEquals(await listed(), true);
        assert(!await reaches(local, `http://127.0.0.1:${origin.port}/`));
        const client = await TrojanUdpClient.open(remote, "alice:alice-secret");
        try {
          const hello = text.encode("hi");
          assertEquals(await echoed(client, { host: "vm", port: udpEcho.port }, hello), null);
        } finally {
          client.close();
        }
        const m = await metrics();
        assert(
          sample(m, "swiftproxy_user_blocked_total", 'user="alice",reason="user_list"') >= 3,
          m,
        );

        await remote.user("set", "alice", "--block", "none");
        assertEquals(await listed(), false);
        started = performance.now();
        while (!await reaches(local, `http://vm:${origin.port}/`)) {
          assert(performance.now() - started < 3000, "none clears the list within a second or so");
          await delay(100);
        }
        console.log(
          `user list applied in ${applied.toFixed(0)} ms, cleared in ${
            (performance.now() - started).toFixed(0)
          } ms`,
        );
      },
    );

    await t.step("bad lists are refused with the file, the line and the reason", async () => {
      const bad = `${dir}/bad.txt`;
      await Deno.writeTextFile(bad, "ok.example\nnot a name!\n");
      const set = await runProgram(
        remoteArgs("user", "set", "alice", "--block", bad, "--data", remote.dir),
      );
      assertEquals(set.code, 2, set.stderr);
      assert(set.stderr.includes(`${bad}: line 2:`), set.stderr);
      const serve = await runProgram(remoteArgs("serve", "--data", remote.dir, "--block", bad));
      assertEquals(serve.code, 2, serve.stderr);
      assert(serve.stderr.includes("line 2"), serve.stderr);
      const big = `${dir}/big.txt`;
      await Deno.writeTextFile(big, "+.x.example\n".repeat(100_000));
      const tooBig = await runProgram(
        remoteArgs("user", "set", "alice", "--block", big, "--data", remote.dir),
      );
      assertEquals(tooBig.code, 2, tooBig.stderr);
      assert(tooBig.stderr.includes("at most 1048576"), tooBig.stderr);
    });
  } finally {
    await local.stop();
    await remote.stop();
    for (const server of [otherAccepts, echo, counting, banner]) await server.close();
    await Promise.all([origin.close(), other.close(), udpEcho.close(), udpOther.close()]);
    await Deno.remove(dir, { recursive: true });
  }
});
