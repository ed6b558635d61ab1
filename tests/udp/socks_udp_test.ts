/**
 * SOCKS5 UDP ASSOCIATE end to end: a real client (PySocks) through swiftproxy-local and
 * swiftproxy-remote to UDP echo servers on loopback, and what the local drops.
 */
import { assert, assertEquals } from "../_assert.ts";
import { startChain } from "../_harness.ts";
import { EchoServer, pattern, pysocksEcho, SocksUdpClient } from "./_udp.ts";

const SIZES = [1, 512, 1400, 8000];
const chain = await startChain(["--udp-timeout", "1.5"]);
const echo4 = new EchoServer("127.0.0.1");
const echo6 = new EchoServer("::1");

Deno.test("UDP: PySocks gets every echo back byte-exact from 127.0.0.1, [::1] and localhost", async () => {
  const all = Object.fromEntries(SIZES.map((size) => [String(size), true]));
  assertEquals(
    await pysocksEcho(chain.local.port, { host: "127.0.0.1", port: echo4.port }, SIZES),
    all,
  );
  assertEquals(await pysocksEcho(chain.local.port, { host: "::1", port: echo6.port }, SIZES), all);
  // "localhost" goes to the remote as a name; it resolves there (to 127.0.0.1 or ::1)
  const byName = echo4.port;
  const results = await pysocksEcho(chain.local.port, { host: "localhost", port: byName }, SIZES);
  assertEquals(results, all);
  await chain.local.program.waitFor(
    /SOCKS5 127\.0\.0\.1:\d+ UDP first to 127\.0\.0\.1:\d+ datagrams up=4 down=4 up=9913 down=9913/,
  );
});

function count(text: string, pattern: RegExp): number {
  return [...text.matchAll(pattern)].length;
}

async function until(condition: () => boolean, ms: number): Promise<void> {
  const deadline = Date.now() + ms;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`not within ${ms} ms: ${condition}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

/** Sends `payload` to the echo server and reports whether its echo came back. */
async function echoes(client: SocksUdpClient, payload = pattern(100)): Promise<boolean> {
  await client.send({ host: "127.0.0.1", port: echo4.port }, payload);
  const got = await client.receive(1000);
  return got !== null && got.payload.length === payload.length &&
    got.payload.every((b, i) => b === payload[i]);
}

Deno.test("UDP: the local drops malformed datagrams, fragments and oversize ones, and goes on", async () => {
  const client = await SocksUdpClient.open(chain.local.port);
  try {
    assert(await echoes(client), "the association works");
    const before = echo4.datagrams;
    const target = [1, 127, 0, 0, 1, echo4.port >> 8, echo4.port & 0xff];
    const bad: [string, Uint8Array][] = [
      ["FRAG 1", Uint8Array.of(0, 0, 1, ...target, 1, 2, 3)],
      ["FRAG 0x81", Uint8Array.of(0, 0, 0x81, ...target, 1, 2, 3)],
      ["ATYP 0", Uint8Array.of(0, 0, 0, 0, 127, 0, 0, 1, 0, 7, 1)],
      ["ATYP 5", Uint8Array.of(0, 0, 0, 5, 127, 0, 0, 1, 0, 7, 1)],
      ["truncated address", Uint8Array.of(0, 0, 0, 1, 127, 0)],
      ["header only", Uint8Array.of(0, 0, 0)],
      ["empty domain", Uint8Array.of(0, 0, 0, 3, 0, 0, 7)],
      ["8193 bytes of payload", Uint8Array.of(0, 0, 0, ...target, ...new Uint8Array(8193))],
    ];
    for (const [, bytes] of bad) await client.sendRaw(bytes);
    assertEquals(await client.receive(300), null, "nothing comes back");
    assertEquals(echo4.datagrams, before, "nothing reached the echo server");
    assert(await echoes(client, pattern(8192)), "the association still works, 8192 bytes pass");
  } finally {
    client.close();
  }
});

Deno.test("UDP: only the client that asked may use the relay port", async () => {
  const client = await SocksUdpClient.open(chain.local.port);
  const stranger = Deno.listenDatagram({ transport: "udp", hostname: "127.0.0.1", port: 0 });
  try {
    assert(await echoes(client), "the association works");
    const before = echo4.datagrams;
    const datagram = new Uint8Array([
      0,
      0,
      0,
      1,
      127,
      0,
      0,
      1,
      echo4.port >> 8,
      echo4.port & 0xff,
      9,
    ]);
    // same IP, another port: the client's port is known since its first datagram
    await stranger.send(datagram, client.relay);
    await new Promise((r) => setTimeout(r, 200));
    assertEquals(echo4.datagrams, before, "the stranger's datagram was dropped");
    assert(await echoes(client), "the client still gets through");
  } finally {
    stranger.close();
    client.close();
  }
});

Deno.test("UDP: a client that names its address keeps the association: a socket on the TCP address sending first is dropped", async () => {
  // The app's UDP socket is on 127.0.0.2; its TCP connection (and the stranger) on 127.0.0.1.
  const cases: [string, (udp: Deno.NetAddr) => { host: string; port: number }][] = [
    ["address only (port 0)", () => ({ host: "127.0.0.2", port: 0 })],
    ["address and port", (udp) => ({ host: "127.0.0.2", port: udp.port })],
  ];
  for (const [what, announce] of cases) {
    const client = await SocksUdpClient.open(chain.local.port, "127.0.0.1", {
      udpHost: "127.0.0.2",
      announce,
    });
    const stranger = Deno.listenDatagram({ transport: "udp", hostname: "127.0.0.1", port: 0 });
    try {
      const before = echo4.datagrams;
      const datagram = Uint8Array.of(
        0,
        0,
        0,
        1,
        127,
        0,
        0,
        1,
        echo4.port >> 8,
        echo4.port & 0xff,
        9,
      );
      await stranger.send(datagram, client.relay);
      let reply: unknown = null;
      const heard = stranger.receive().then((got) => reply = got, () => {});
      await new Promise((r) => setTimeout(r, 300));
      assertEquals(echo4.datagrams, before, `${what}: the stranger's datagram was dropped`);
      assert(await echoes(client), `${what}: the client that asked gets through`);
      await new Promise((r) => setTimeout(r, 200));
      assertEquals(reply, null, `${what}: the stranger got no reply`);
      stranger.close();
      await heard;
    } finally {
      try {
        stranger.close();
      } catch {
        // closed above
      }
      client.close();
    }
  }
});

Deno.test("UDP: closing the SOCKS5 TCP connection ends the association on both sides", async () => {
  const client = await SocksUdpClient.open(chain.local.port);
  const remoteLine = /alice 127\.0\.0\.1:\d+ UDP .* closed: done/g;
  const remoteBefore = count(chain.remote.program.output, remoteLine);
  assert(await echoes(client));
  client.control.close();
  const port = (client.control.localAddr as Deno.NetAddr).port;
  const localLine = new RegExp(`SOCKS5 127\\.0\\.0\\.1:${port} UDP first to .* closed: done`);
  await chain.local.program.waitFor(localLine, 3000);
  await until(() => count(chain.remote.program.output, remoteLine) > remoteBefore, 3000);
  // the relay port no longer takes its datagrams
  const before = echo4.datagrams;
  await client.send({ host: "127.0.0.1", port: echo4.port }, pattern(5)).catch(() => 0);
  await new Promise((r) => setTimeout(r, 200));
  assertEquals(echo4.datagrams, before);
  client.close();
});

Deno.test("UDP: an idle association closes after --udp-timeout (1.5 s here)", async () => {
  const client = await SocksUdpClient.open(chain.local.port);
  try {
    assert(await echoes(client));
    const waited = await client.controlClosed(6000);
    assert(waited > 1000 && waited < 4000, `closed after ${Math.round(waited)} ms`);
    await chain.remote.program.waitFor(/alice .* UDP .* closed: idle-timeout/, 1000);
  } finally {
    client.close();
  }
});

Deno.test("teardown", async () => {
  await echo4.close();
  await echo6.close();
  await chain.stop();
});
