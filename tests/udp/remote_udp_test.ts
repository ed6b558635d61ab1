/**
 * The remote's UDP associations, spoken to by hand over Trojan: full-cone replies, the
 * destination guard per datagram, malformed frames, a disabled user, and a UDP flood against
 * a down limit with the usage it leaves in the database.
 */
import { assert, assertEquals, bytes } from "../_assert.ts";
import { delay, RemoteFixture } from "../_harness.ts";
import { serveStrict } from "../hardening/_helpers.ts";
import { MiB, userRow } from "../limits/_traffic.ts";
import { encodeTrojanFrame } from "../../lib/protocol/trojan_udp.ts";
import { EchoServer, pattern, TrojanUdpClient, udpSockets } from "./_udp.ts";

const USERS = {
  alice: "alice-secret",
  bob: "bob-secret",
  carol: "carol-secret",
  dave: "dave-secret",
};
const remote = await RemoteFixture.start(USERS);
await remote.user("set", "bob", "--down", "1MiB");
await remote.user("set", "dave", "--max-conns", "1");
// Strict, as in production, with only 127.0.0.1 let through: ::1 and 127.0.0.2 stay private.
await serveStrict(remote, ["--allow", "127.0.0.1/32", "--udp-timeout", "30"]);
const echo = new EchoServer("127.0.0.1");
const echo6 = new EchoServer("::1");
const echo2 = new EchoServer("127.0.0.2");
const target = { host: "127.0.0.1", port: echo.port };

async function echoes(client: TrojanUdpClient, payload = pattern(100)): Promise<boolean> {
  await client.send(target, payload);
  const got = await client.receive(1000);
  return got !== null && got.destination.host === "127.0.0.1" &&
    got.destination.port === echo.port && got.payload.length === payload.length &&
    got.payload.every((b, i) => b === payload[i]);
}

Deno.test("remote UDP: replies from any source come back down the tunnel (full cone)", async () => {
  const client = await TrojanUdpClient.open(remote, "alice:alice-secret");
  const witness = Deno.listenDatagram({ transport: "udp", hostname: "127.0.0.1", port: 0 });
  const stranger = Deno.listenDatagram({ transport: "udp", hostname: "127.0.0.1", port: 0 });
  try {
    assert(await echoes(client), "the echo comes back with its source");
    // the association's socket, as the witness sees it; then someone else writes to it
    await client.send({ host: "127.0.0.1", port: (witness.addr as Deno.NetAddr).port }, pattern(3));
    const [, socketAddr] = await witness.receive();
    await stranger.send(pattern(9), socketAddr);
    const got = await client.receive(1000);
    assertEquals(got?.destination, {
      host: "127.0.0.1",
      port: (stranger.addr as Deno.NetAddr).port,
    });
    assertEquals(got?.payload, pattern(9));
  } finally {
    witness.close();
    stranger.close();
    client.close();
  }
});

Deno.test("remote UDP: private destinations are refused per datagram; none leaves", async () => {
  const client = await TrojanUdpClient.open(remote, "alice:alice-secret");
  try {
    for (
      const destination of [{ host: "::1", port: echo6.port }, {
        host: "127.0.0.2",
        port: echo2.port,
      }]
    ) {
      await client.send(destination, pattern(10));
    }
    assertEquals(await client.receive(300), null);
    assertEquals([echo6.datagrams, echo2.datagrams], [0, 0]);
    assert(await echoes(client), "the association goes on");
  } finally {
    client.close();
  }
});

Deno.test("remote UDP: an association whose every datagram is refused holds no UDP socket", async () => {
  const pid = remote.program!.child.pid;
  // The earlier tests' associations end as their tunnels close: wait for their sockets to go.
  for (let waited = 0; udpSockets(pid) > 0 && waited < 2000; waited += 50) await delay(50);
  const before = udpSockets(pid);
  const refused = [{ host: "::1", port: echo6.port }, { host: "127.0.0.2", port: echo2.port }];
  const clients = await Promise.all(
    [1, 2, 3].map(() => TrojanUdpClient.open(remote, "alice:alice-secret")),
  );
  try {
    for (const client of clients) {
      for (const destination of refused) await client.send(destination, pattern(10));
    }
    assertEquals(await clients[0]!.receive(300), null, "nothing came back");
    assertEquals(udpSockets(pid), before, "three refused associations hold no UDP socket");
    assert(await echoes(clients[0]!), "an allowed datagram gets through");
    assertEquals(udpSockets(pid), before + 1, "and its association opened one socket");
  } finally {
    for (const client of clients) client.close();
  }
});

Deno.test("remote UDP: frames in one write are judged one by one; a refused address stays refused", async () => {
  const client = await TrojanUdpClient.open(remote, "alice:alice-secret");
  try {
    const refused = { host: "127.0.0.2", port: echo2.port };
    const frames: Uint8Array[] = [];
    for (let i = 0; i < 4; i++) {
      // The same refused literal twice in a row, then an allowed one, then refused again.
      frames.push(encodeTrojanFrame(refused, pattern(10)), encodeTrojanFrame(refused, pattern(10)));
      frames.push(encodeTrojanFrame(target, pattern(100 + i)));
    }
    await client.writeRaw(bytes(...frames));
    const sizes: (number | undefined)[] = [];
    for (let i = 0; i < 4; i++) sizes.push((await client.receive(2000))?.payload.length);
    assertEquals(sizes.sort(), [100, 101, 102, 103]);
    assertEquals(await client.receive(300), null);
    assertEquals(echo2.datagrams, 0);
  } finally {
    client.close();
  }
});

Deno.test("remote UDP: a frame over 8192 bytes is dropped, the association goes on", async () => {
  const client = await TrojanUdpClient.open(remote, "alice:alice-secret");
  try {
    const before = echo.datagrams;
    await client.send(target, new Uint8Array(8193));
    await client.send(target, new Uint8Array(65535));
    assertEquals(await client.receive(300), null);
    assertEquals(echo.datagrams, before);
    assert(await echoes(client, pattern(8192)), "8192 bytes pass");
  } finally {
    client.close();
  }
});

Deno.test("remote UDP: a frame cut across writes is buffered until whole", async () => {
  const client = await TrojanUdpClient.open(remote, "alice:alice-secret");
  try {
    const frame = encodeTrojanFrame(target, pattern(1400));
    for (const [from, to] of [[0, 1], [1, 5], [5, 9], [9, 10], [10, 700], [700, frame.length]]) {
      await client.writeRaw(frame.slice(from, to));
      await delay(20);
    }
    assertEquals((await client.receive(1000))?.payload, pattern(1400));
  } finally {
    client.close();
  }
});

Deno.test("remote UDP: malformed frames end only their own association, never the server", async () => {
  const port = [echo.port >> 8, echo.port & 0xff];
  const bad: [string, Uint8Array][] = [
    ["ATYP 0", Uint8Array.of(0, 127, 0, 0, 1, ...port, 0, 1, 13, 10, 1)],
    ["ATYP 5", Uint8Array.of(5, 127, 0, 0, 1, ...port, 0, 1, 13, 10, 1)],
    ["no CRLF after LENGTH", Uint8Array.of(1, 127, 0, 0, 1, ...port, 0, 1, 10, 13, 1)],
    ["empty domain", Uint8Array.of(3, 0, ...port, 0, 1, 13, 10, 1)],
  ];
  const before = echo.datagrams;
  for (const [name, bytes] of bad) {
    const client = await TrojanUdpClient.open(remote, "alice:alice-secret");
    await client.writeRaw(bytes);
    const waited = await client.closed(3000);
    assert(waited < 2000, `${name}: closed after ${Math.round(waited)} ms`);
  }
  // truncated: a frame whose LENGTH runs past the data, then the client goes away
  for (const cut of [3, 8, 11]) {
    const client = await TrojanUdpClient.open(remote, "alice:alice-secret");
    const frame = encodeTrojanFrame(target, pattern(500));
    await client.writeRaw(frame.slice(0, cut));
    await delay(50);
    client.close();
  }
  await delay(200);
  assertEquals(echo.datagrams, before, "no part of a bad frame left as a datagram");
  const client = await TrojanUdpClient.open(remote, "alice:alice-secret");
  assert(await echoes(client), "the server still serves");
  client.close();
  await remote.program.waitFor(/alice .* UDP .* closed: bad-frame/, 1000);
});

Deno.test("remote UDP: a disabled user's association closes within 1 s", async () => {
  const client = await TrojanUdpClient.open(remote, "carol:carol-secret");
  try {
    assert(await echoes(client));
    await remote.user("disable", "carol");
    const waited = await client.closed(3000);
    assert(waited < 1000, `closed ${Math.round(waited)} ms after the disable command returned`);
  } finally {
    client.close();
  }
});

Deno.test("remote UDP: an association counts against the user's max-conns like a tunnel", async () => {
  const first = await TrojanUdpClient.open(remote, "dave:dave-secret");
  try {
    assert(await echoes(first));
    const second = await TrojanUdpClient.open(remote, "dave:dave-secret");
    await second.send(target, pattern(10));
    const waited = await second.closed(3000);
    assert(waited < 2000, `the second association was closed after ${Math.round(waited)} ms`);
    assert(await echoes(first), "the first goes on");
  } finally {
    first.close();
  }
});

Deno.test("remote UDP: a 1 MiB/s down limit holds for a flood (±10% steady, one burst at most); usage matches", async () => {
  const client = await TrojanUdpClient.open(remote, "bob:bob-secret");
  const before = await userRow(remote, "bob");
  const echoBefore = echo.bytes;
  const payload = pattern(1400);
  const frame = encodeTrojanFrame(target, payload);
  let sending = true;
  // about 2 MiB/s up: twice what may come back
  const flood = (async () => {
    const batch = new Uint8Array(frame.length * 15);
    for (let i = 0; i < 15; i++) batch.set(frame, i * frame.length);
    await client.writeRaw(frame);
    while (sending) {
      await client.peer.write(batch);
      await delay(10);
    }
  })();
  let received = 0;
  const marks: [number, number][] = [];
  const started = performance.now();
  const reading = (async () => {
    for (;;) {
      const got = await client.receive(1500);
      if (!got) return;
      received += got.payload.length;
      marks.push([performance.now() - started, received]);
    }
  })();
  await delay(6_500);
  sending = false;
  await flood;
  await reading;
  client.close();
  const at = (ms: number) => marks.findLast(([t]) => t <= ms)?.[1] ?? 0;
  // A stall of this process (or of the remote, whose bucket then refills) moves bytes from one
  // second into the next: the median of five one-second rates is the steady rate whatever one
  // stall did, and the whole window may exceed it by at most the bucket's one second of burst.
  const perSecond = [1, 2, 3, 4, 5].map((s) => at(s * 1000 + 1000) - at(s * 1000));
  const steady = perSecond.toSorted((a, b) => a - b)[2]!;
  const whole = (at(6_000) - at(1_000)) / 5;
  const shown = perSecond.map((r) => (r / MiB).toFixed(3)).join(", ");
  assert(Math.abs(steady - MiB) <= 0.1 * MiB, `steady down rate of ${shown} MiB/s`);
  assert(whole <= 1.25 * MiB, `down rate over 5 s ${(whole / MiB).toFixed(3)} MiB/s`);
  await delay(1_000); // usage is written twice a second
  const after = await userRow(remote, "bob");
  const up = after.bytesUp - before.bytesUp;
  const down = after.bytesDown - before.bytesDown;
  const seen = echo.bytes - echoBefore;
  assert(Math.abs(up - seen) <= seen * 0.01, `usage up ${up}, the echo server saw ${seen}`);
  assert(Math.abs(down - received) <= received * 0.01, `usage down ${down}, received ${received}`);
});

Deno.test("teardown", async () => {
  await Promise.all([echo.close(), echo6.close(), echo2.close()]);
  await remote.stop();
});
