/**
 * The Mux.Cool codec against Debian's V2Ray 4.34, the client most users' apps are built like:
 * its Trojan outbound with `"mux": {"enabled": true}` talks to a small TLS server here that
 * reads the Trojan header, decodes every frame with `decodeMuxFrame` and answers with
 * `encodeMuxFrame` (echoing each sub-connection's data), so both directions of the codec meet
 * V2Ray's own. A second outbound goes to V2Ray's Trojan server, to see whether that server
 * takes Mux.Cool over Trojan.
 */
import {
  decodeMuxFrame,
  encodeMuxFrame,
  MUX_COOL,
  MuxStatus,
} from "../../lib/protocol/mux_cool.ts";
import type { MuxFrame } from "../../lib/protocol/mux_cool.ts";
import { decodeTrojanHeader, encodeTrojanHeader, trojanToken } from "../../lib/protocol/trojan.ts";
import type { TrojanHeader } from "../../lib/protocol/trojan.ts";
import { Command, encodeGreeting, encodeRequest, Method } from "../../lib/protocol/socks5.ts";
import { Peer } from "../../lib/common/net/peer.ts";
import { assert, assertEquals, bytes } from "../_assert.ts";
import { freePort, has, startOrigin } from "../_harness.ts";
import type { Program } from "../_harness.ts";
import {
  assertSameBytes,
  closeQuietly,
  concatAll,
  connectionsTo,
  eventually,
  makeCertificates,
  readAll,
  readExactly,
  readSocksReply,
  socksRequest,
  startConfigured,
  waitForPort,
  writeAll,
} from "../e2e/_e2e.ts";
import { EchoServer, SocksUdpClient } from "../udp/_udp.ts";
import { randomBytes } from "../_bytes.ts";

const V2RAY = "/usr/bin/v2ray";
const missing = !has(V2RAY);
const PASSWORD = "alice:alice-secret";

/** One TLS connection V2Ray made: its Trojan header and every frame it sent, in order. */
interface Tunnel {
  header: TrojanHeader;
  frames: MuxFrame[];
  /** The first frame's bytes as they came, a vector captured from V2Ray. */
  firstFrame: Uint8Array;
}

/**
 * A Mux.Cool echo server: each New or Keep frame's data comes back on a Keep frame of the same
 * session (a UDP datagram too), and an End is answered with an End.
 */
class MuxEchoServer {
  readonly tunnels: Tunnel[] = [];
  readonly #listener: Deno.TlsListener;
  readonly #done: Promise<unknown>;
  readonly #conns = new Set<Deno.Conn>();
  readonly #tasks: Promise<void>[] = [];

  constructor(cert: string, key: string) {
    const listener = Deno.listenTls({ hostname: "127.0.0.1", port: 0, cert, key });
    this.#listener = listener;
    this.#done = (async () => {
      for await (const conn of listener) {
        this.#conns.add(conn);
        this.#tasks.push(this.#serve(conn).catch(() => {}).finally(() => closeQuietly(conn)));
      }
    })().catch(() => {});
  }

  get port(): number {
    return this.#listener.addr.port;
  }

  async #serve(conn: Deno.TlsConn): Promise<void> {
    const peer = new Peer(conn);
    const header = await peer.readFrame(decodeTrojanHeader);
    const tunnel: Tunnel = { header, frames: [], firstFrame: new Uint8Array() };
    this.tunnels.push(tunnel);
    const reply = (frame: MuxFrame) => writeAll(conn, encodeMuxFrame(frame));
    for (;;) {
      const frame = await peer.readFrame((bytes) => {
        const decoded = decodeMuxFrame(bytes);
        if (decoded && tunnel.frames.length === 0) {
          tunnel.firstFrame = bytes.slice(0, decoded.consumed);
        }
        return decoded;
      });
      // the data is a view into the read buffer: keep a copy
      tunnel.frames.push(frame.data ? { ...frame, data: frame.data.slice() } : frame);
      if (frame.status === MuxStatus.end) {
        await reply({ id: frame.id, status: MuxStatus.end, error: false });
      } else if (frame.data?.length) {
        await reply({ id: frame.id, status: MuxStatus.keep, error: false, data: frame.data });
      }
    }
  }

  async close(): Promise<void> {
    this.#listener.close();
    for (const conn of this.#conns) closeQuietly(conn);
    await this.#done;
    await Promise.all(this.#tasks);
  }
}

const dir = await Deno.makeTempDir({ prefix: "swiftproxy-mux-v2ray-" });
const certs = await makeCertificates(dir);
const stub = new MuxEchoServer(
  await Deno.readTextFile(certs.cert),
  await Deno.readTextFile(certs.key),
);
const origin = startOrigin();
const origin6 = startOrigin("::1");
const udpEcho = new EchoServer("127.0.0.1");
const ports = { toStub: freePort(), toV2Ray: freePort(), v2Server: freePort() };
const programs: Program[] = [];

/** A V2Ray Trojan outbound to 127.0.0.1:`port` with Mux on. */
const trojanOutbound = (tag: string, port: number) => ({
  tag,
  protocol: "trojan",
  settings: { servers: [{ address: "127.0.0.1", port, password: PASSWORD }] },
  streamSettings: {
    network: "tcp",
    security: "tls",
    tlsSettings: {
      serverName: "localhost",
      certificates: [{ usage: "verify", certificateFile: certs.caCert }],
    },
  },
  mux: { enabled: true, concurrency: 8 },
});

if (!missing) {
  programs.push(
    startConfigured(
      V2RAY,
      {
        log: { loglevel: "warning" },
        inbounds: [
          {
            tag: "to-stub",
            listen: "127.0.0.1",
            port: ports.toStub,
            protocol: "socks",
            settings: { auth: "noauth", udp: true, ip: "127.0.0.1" },
          },
          {
            tag: "to-v2ray",
            listen: "127.0.0.1",
            port: ports.toV2Ray,
            protocol: "socks",
            settings: { auth: "noauth" },
          },
        ],
        outbounds: [
          trojanOutbound("stub", stub.port),
          trojanOutbound("v2ray", ports.v2Server),
        ],
        routing: {
          rules: [
            { type: "field", inboundTag: ["to-stub"], outboundTag: "stub" },
            { type: "field", inboundTag: ["to-v2ray"], outboundTag: "v2ray" },
          ],
        },
      },
      `${dir}/v2ray-client.json`,
      (path) => ["-config", path],
    ),
    startConfigured(
      V2RAY,
      {
        // info: its log says how it took each request (asserted below)
        log: { loglevel: "info" },
        inbounds: [{
          listen: "127.0.0.1",
          port: ports.v2Server,
          protocol: "trojan",
          settings: { clients: [{ password: PASSWORD }] },
          streamSettings: {
            network: "tcp",
            security: "tls",
            tlsSettings: { certificates: [{ certificateFile: certs.cert, keyFile: certs.key }] },
          },
        }],
        outbounds: [{ protocol: "freedom" }],
      },
      `${dir}/v2ray-server.json`,
      (path) => ["-config", path],
    ),
  );
  await Promise.all(
    [ports.toStub, ports.toV2Ray, ports.v2Server].map((port, i) =>
      waitForPort(port, () => programs[Math.min(i, 1)]!.output)
    ),
  );
}

/**
 * Sends `text` on a SOCKS5 connection through V2Ray and reads the echo. The greeting, the
 * request and `text` go in one write, so V2Ray has the data when it opens the session (it waits
 * 100 ms for it) and its New frame carries it whatever the machine's load.
 */
async function echoThrough(host: string, port: number, text: string): Promise<Deno.TcpConn> {
  const conn = await Deno.connect({ hostname: "127.0.0.1", port: ports.toStub });
  const request = encodeRequest({ command: Command.connect, destination: { host, port } });
  await writeAll(conn, bytes(encodeGreeting([Method.noAuth]), request, text));
  assertEquals(await readExactly(conn, 2), bytes([5, Method.noAuth]));
  assertEquals(await readSocksReply(conn), 0);
  assertEquals(new TextDecoder().decode(await readExactly(conn, text.length)), text);
  return conn;
}

Deno.test({
  name: "V2Ray's mux opens one Trojan tunnel to v1.mux.cool and a New frame per connection",
  ignore: missing,
  async fn() {
    const first = await echoThrough("example.com", 80, "hello");
    const tunnel = stub.tunnels[0]!;
    assertEquals(tunnel.header.token, trojanToken(PASSWORD));
    assertEquals(tunnel.header.command, 1);
    assertEquals(tunnel.header.destination, MUX_COOL);
    // the first frame as V2Ray wrote it, byte for byte: session 1, New, data follows, TCP,
    // port 80, address type 2 (domain), then the data it already had
    assertEquals(
      tunnel.firstFrame,
      bytes([0, 20, 0, 1, 1, 1, 1, 0, 80, 2, 11], "example.com", [0, 5], "hello"),
    );
    const others = await Promise.all([
      echoThrough("127.0.0.1", 9, "ipv4"),
      echoThrough("::1", 22, "ipv6"),
      echoThrough("example.net", 443, "x".repeat(20_000)),
    ]);
    assertEquals(stub.tunnels.length, 1, "every connection rides the one tunnel");
    const opened = tunnel.frames.filter((frame) => frame.status === MuxStatus.new);
    assertEquals(
      opened.map((frame) => frame.target).sort((a, b) => a!.port - b!.port),
      [
        { network: "tcp", host: "127.0.0.1", port: 9 },
        { network: "tcp", host: "::1", port: 22 },
        { network: "tcp", host: "example.com", port: 80 },
        { network: "tcp", host: "example.net", port: 443 },
      ],
    );
    assertEquals(new Set(opened.map((frame) => frame.id)).size, 4, "one id per connection");
    // 20,000 bytes: V2Ray writes a stream in frames of at most 8 KiB
    const big = opened.find((frame) => frame.target?.port === 443)!;
    const bigFrames = tunnel.frames.filter((frame) => frame.id === big.id && frame.data);
    assert(bigFrames.every((frame) => frame.data!.length <= 8192), "8 KiB frames");
    assertEquals(concatAll(bigFrames.map((frame) => frame.data!)).length, 20_000);
    // closing a connection sends End for its session, and our End closes it on V2Ray's side
    for (const conn of [first, ...others]) {
      conn.closeWrite();
      assertEquals(await readAll(conn), new Uint8Array());
      conn.close();
    }
    await eventually(
      () => tunnel.frames.filter((frame) => frame.status === MuxStatus.end).length === 4,
      "an End frame per closed connection",
    );
    for (const frame of tunnel.frames.filter((frame) => frame.status === MuxStatus.end)) {
      assertEquals(frame.error, false);
    }
  },
});

Deno.test({
  name: "V2Ray's mux carries a UDP association as a UDP session on the same tunnel",
  ignore: missing,
  async fn() {
    const client = await SocksUdpClient.open(ports.toStub);
    try {
      const payload = randomBytes(1200);
      await client.send({ host: "127.0.0.1", port: 53 }, payload);
      const echoed = await client.receive(5000);
      assert(echoed, "no datagram came back");
      await assertSameBytes(echoed.payload, payload, "datagram");
      await client.send({ host: "127.0.0.1", port: 53 }, bytes("second"));
      assertEquals((await client.receive(5000))?.payload, bytes("second"));
      const frames = stub.tunnels.flatMap((tunnel) => tunnel.frames);
      const opened = frames.find((frame) => frame.target?.network === "udp")!;
      assertEquals(opened.status, MuxStatus.new);
      assertEquals(opened.target, { network: "udp", host: "127.0.0.1", port: 53 });
      await assertSameBytes(opened.data!, payload, "the New frame's datagram");
      // V2Ray 4.34 sends later datagrams as Keep frames without an address
      const later = frames.filter((frame) => frame.id === opened.id && frame !== opened);
      assertEquals(later[0], {
        id: opened.id,
        status: MuxStatus.keep,
        error: false,
        data: bytes("second"),
      });
    } finally {
      client.close();
    }
  },
});

Deno.test({
  name: "V2Ray's Trojan server takes Mux.Cool: 8 parallel downloads byte-exact over one tunnel",
  ignore: missing,
  async fn() {
    const sizes = [1, 1000, 65_536, 200_000, 333_333, 500_000, 1_000_000, 2_000_000];
    const downloads = sizes.map(async (size) => {
      const { conn, rep } = await socksRequest(ports.toV2Ray, {
        host: "127.0.0.1",
        port: origin.port,
      });
      assertEquals(rep, 0);
      await writeAll(conn, bytes(`GET /bytes/${size} HTTP/1.0\r\nHost: origin\r\n\r\n`));
      const response = await readAll(conn);
      conn.close();
      return response;
    });
    const expected = await Promise.all(
      sizes.map((size) =>
        fetch(`http://127.0.0.1:${origin.port}/bytes/${size}`).then((r) => r.bytes())
      ),
    );
    const responses = await Promise.all(downloads);
    assertEquals(connectionsTo(ports.v2Server), 1, "one TLS connection carries all eight");
    // V2Ray's Trojan inbound hands v1.mux.cool to its mux server (common/mux/server.go), which
    // opens each sub-connection; its log is written asynchronously, so it may come a bit later
    const opened = () =>
      programs[1]!.output.match(/common\/mux: received request for tcp:127\.0\.0\.1:\d+/g) ?? [];
    // One TLS connection carried the eight byte-exact downloads (above): that is the proof. The
    // log confirms V2Ray's mux server opened them, though V2Ray's logger drops lines when the
    // machine is busy (seen once: fewer than 8 within 10 s), so at least one must show.
    await eventually(() => opened().length >= 1, "a sub-connection in V2Ray's log", 15_000);
    assert(opened().length <= 8, `${opened().length} sub-connections logged for 8 downloads`);
    assert(
      programs[1]!.output.includes("proxy/trojan: received request for tcp:v1.mux.cool:9527"),
      "V2Ray's Trojan inbound did not log the request for v1.mux.cool",
    );
    for (const [i, response] of responses.entries()) {
      const text = new TextDecoder().decode(response.subarray(0, 200));
      assert(text.startsWith("HTTP/1.0 200") || text.startsWith("HTTP/1.1 200"), text);
      const body = response.subarray(text.indexOf("\r\n\r\n") + 4);
      await assertSameBytes(body, expected[i]!, `download of ${sizes[i]} bytes`);
    }
  },
});

Deno.test({
  name: "encodeMuxFrame's sub-connections (IPv4, IPv6, domain, UDP) work on V2Ray's Trojan server",
  ignore: missing,
  async fn() {
    const conn = await Deno.connectTls({
      hostname: "127.0.0.1",
      port: ports.v2Server,
      caCerts: [await Deno.readTextFile(certs.caCert)],
    });
    const token = trojanToken(PASSWORD);
    const request = (path: string) => bytes(`GET ${path} HTTP/1.0\r\nHost: origin\r\n\r\n`);
    const tcp = [
      { id: 1, host: "127.0.0.1", port: origin.port, size: 70_000 },
      { id: 2, host: "::1", port: origin6.port, size: 5_000 },
      { id: 3, host: "localhost", port: origin.port, size: 1 },
    ];
    const opens = tcp.map(({ id, host, port, size }) =>
      encodeMuxFrame({
        id,
        status: MuxStatus.new,
        error: false,
        target: { network: "tcp", host, port },
        data: request(`/bytes/${size}`),
      })
    );
    const datagram = randomBytes(1500);
    const udpOpen = encodeMuxFrame({
      id: 4,
      status: MuxStatus.new,
      error: false,
      target: { network: "udp", host: "127.0.0.1", port: udpEcho.port },
      data: datagram,
    });
    const header = encodeTrojanHeader({ token, command: 1, destination: MUX_COOL });
    await writeAll(conn, concatAll([header, ...opens, udpOpen]));
    const peer = new Peer(conn);
    const received = new Map<number, Uint8Array[]>();
    const ended = new Set<number>();
    while (ended.size < tcp.length || !received.has(4)) {
      const frame = await peer.readFrame(decodeMuxFrame, 5000);
      if (frame.status === MuxStatus.end) ended.add(frame.id);
      if (frame.data) received.set(frame.id, [...received.get(frame.id) ?? [], frame.data.slice()]);
    }
    conn.close();
    for (const { id, port, size } of tcp) {
      const response = concatAll(received.get(id) ?? []);
      const text = new TextDecoder().decode(response.subarray(0, 200));
      assert(text.startsWith("HTTP/1.1 200") || text.startsWith("HTTP/1.0 200"), `${id}: ${text}`);
      const expected = await fetch(
        `http://${id === 2 ? "[::1]" : "127.0.0.1"}:${port}/bytes/${size}`,
      )
        .then((r) => r.bytes());
      await assertSameBytes(
        response.subarray(text.indexOf("\r\n\r\n") + 4),
        expected,
        `session ${id}`,
      );
    }
    await assertSameBytes(concatAll(received.get(4)!), datagram, "the UDP echo");
  },
});

Deno.test("teardown", async () => {
  await Promise.all(programs.map((program) => program.stop()));
  await stub.close();
  await Promise.all([origin.close(), origin6.close(), udpEcho.close()]);
  await Deno.remove(dir, { recursive: true });
});
