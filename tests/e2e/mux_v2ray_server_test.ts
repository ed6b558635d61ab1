/**
 * swiftproxy-local with `--mux` through Debian's V2Ray 4.34 as the Trojan server: V2Ray's Trojan
 * inbound takes Mux.Cool after a header for `v1.mux.cool`, so the local's sub-connections must
 * be what V2Ray's own client sends: parallel downloads byte-exact over at most N tunnels, and a
 * UDP association as a UDP sub-connection.
 */
import { assert, assertEquals } from "../_assert.ts";
import { curl, freePort, has, LocalFixture, randomBytes, startOrigin } from "../_harness.ts";
import type { RemoteFixture } from "../_harness.ts";
import {
  assertSameBytes,
  connectionsTo,
  eventually,
  makeCertificates,
  quietLocalArgs,
  startConfigured,
  waitForPort,
} from "./_e2e.ts";
import { EchoServer, SocksUdpClient } from "../udp/_udp.ts";

const V2RAY = "/usr/bin/v2ray";

Deno.test({
  name: "swiftproxy-local --mux 2 through V2Ray's Trojan server: 12 downloads and UDP, byte-exact",
  ignore: !has(V2RAY),
  async fn() {
    const origin = startOrigin("127.0.0.1");
    const echo = new EchoServer("127.0.0.1");
    const dir = await Deno.makeTempDir({ prefix: "swiftproxy-e2e-mux-v2ray-" });
    const certs = await makeCertificates(dir);
    const port = freePort();
    const v2ray = startConfigured(
      V2RAY,
      {
        log: { loglevel: "warning" },
        inbounds: [{
          listen: "127.0.0.1",
          port,
          protocol: "trojan",
          settings: { clients: [{ password: "alice:alice-secret" }] },
          streamSettings: {
            network: "tcp",
            security: "tls",
            tlsSettings: { certificates: [{ certificateFile: certs.cert, keyFile: certs.key }] },
          },
        }],
        outbounds: [{ protocol: "freedom" }],
      },
      `${dir}/v2ray.json`,
      (path) => ["-config", path],
    );
    // LocalFixture wants a remote; V2Ray stands in for it.
    const remote = { address: `127.0.0.1:${port}`, certPath: certs.caCert } as RemoteFixture;
    let local: LocalFixture | null = null;
    try {
      await waitForPort(port, () => v2ray.output);
      local = await LocalFixture.start(remote, "alice", "alice-secret", [
        ...quietLocalArgs(dir),
        "--mux",
        "2",
        "--preconnect",
        "0",
      ]);
      const socks = `socks5h://${local.address}`;
      // The start-up account check is one or two connections of its own (the check, then maybe
      // a login nobody has, to tell a plain Trojan server): let it end before counting. Listening comes
      // before the check starts, so wait for its verdict, not only for no connection.
      await local.program.waitFor(/Not a SwiftProxy remote/);
      for (let i = 0; i < 100 && connectionsTo(port) > 0; i++) {
        await new Promise((resolve) => setTimeout(resolve, 100));
      }
      const sizes = [1, 100, 10_000, 65_536, 100_000, 300_000, 1_000_000, 2_000_000];
      sizes.push(3_000_000, 5, 50_000, 4_000_000);
      let most = 0;
      const watching = setInterval(() => most = Math.max(most, connectionsTo(port)), 20);
      const results = await Promise.all(
        sizes.map((size) => curl("-x", socks, `http://127.0.0.1:${origin.port}/bytes/${size}`)),
      );
      clearInterval(watching);
      for (const [i, result] of results.entries()) {
        assertEquals(result.code, 0, `${result.stderr}\n${local.program.output}`);
        await assertSameBytes(result.body, randomBytes(sizes[i]!), `download of ${sizes[i]}`);
      }
      assert(
        most >= 1 && most <= 2,
        `${most} TLS connections to V2Ray, expected 1 or 2\n${local.program.output}\n${v2ray.output}`,
      );
      // Each download ended as curl closed it: V2Ray answers the local's End with the error bit
      // set (its copy from the closed session fails), which is no reset of the server's.
      const ends =
        () => [...local!.program.output.matchAll(/-> 127\.0\.0\.1:\d+ .* closed: (\S+)/g)];
      await eventually(() => ends().length >= sizes.length, "an access log line per download");
      assertEquals(ends().map((m) => m[1]), sizes.map(() => "done"), local.program.output);
      // an upload, whose answer comes after the whole body
      const data = randomBytes(3_000_000, 9);
      await Deno.writeFile(`${dir}/up.bin`, data);
      const up = await curl(
        "-x",
        socks,
        "--data-binary",
        `@${dir}/up.bin`,
        `http://127.0.0.1:${origin.port}/sha256`,
      );
      assertEquals(up.code, 0, up.stderr);
      assertEquals(JSON.parse(new TextDecoder().decode(up.body)).length, data.length);

      const client = await SocksUdpClient.open(local.port);
      try {
        for (const size of [1, 512, 1400, 2000]) {
          const payload = randomBytes(size, size);
          await client.send({ host: "127.0.0.1", port: echo.port }, payload);
          const echoed = await client.receive(5000);
          assert(echoed, `no echo of ${size} bytes\n${v2ray.output}`);
          await assertSameBytes(echoed.payload, payload, `datagram of ${size} bytes`);
        }
        assertEquals(echo.datagrams, 4);
      } finally {
        client.close();
      }
      assert(!/tunnel-lost/.test(local.program.output), local.program.output);
    } finally {
      await local?.stop();
      await v2ray.stop();
      await origin.close();
      await echo.close();
      await Deno.remove(dir, { recursive: true });
    }
  },
});
