/**
 * UDP interop both ways with Debian's `trojan` (1.16) and V2Ray (4.34, Trojan inbound and
 * outbound): their client through swiftproxy-remote, swiftproxy-local through their server.
 * PySocks sends the datagrams in every case; each echo must come back byte-exact.
 */
import { assertEquals } from "../_assert.ts";
import { freePort, LocalFixture, RemoteFixture } from "../_harness.ts";
import type { Program } from "../_harness.ts";
import { makeCertificates, quietLocalArgs, startConfigured, waitForPort } from "../e2e/_e2e.ts";
import { EchoServer, pysocksEcho } from "./_udp.ts";

const TROJAN = "/usr/bin/trojan";
const V2RAY = "/usr/bin/v2ray";
const exists = (path: string) => Deno.stat(path).then(() => true, () => false);
const missing = !(await exists(TROJAN)) || !(await exists(V2RAY));
const SIZES = [1, 512, 1400, 8000];
const ALL = Object.fromEntries(SIZES.map((size) => [String(size), true]));
/**
 * V2Ray 4.34 reads a datagram into 2 KiB buffers and sends the pieces after the first as raw
 * bytes instead of frames (seen on the wire: a 2038-byte frame, then payload where the next
 * ATYP should be), so larger datagrams cannot pass it either way. Below that, byte-exact.
 */
const V2RAY_SIZES = [1, 512, 1400, 2000];
const V2RAY_ALL = Object.fromEntries(V2RAY_SIZES.map((size) => [String(size), true]));
const CREDENTIAL = "alice:alice-secret";

const echo = new EchoServer("127.0.0.1");
const dir = await Deno.makeTempDir({ prefix: "swiftproxy-udp-interop-" });
const remote = await RemoteFixture.start();
const certs = await makeCertificates(dir);
const ports = {
  trojanClient: freePort(),
  trojanServer: freePort(),
  v2Client: freePort(),
  v2Server: freePort(),
};
const thirdParty: Program[] = [];
const locals: LocalFixture[] = [];

if (!missing) {
  thirdParty.push(
    startConfigured(
      TROJAN,
      {
        run_type: "client",
        local_addr: "127.0.0.1",
        local_port: ports.trojanClient,
        remote_addr: "127.0.0.1",
        remote_port: remote.port,
        password: [CREDENTIAL],
        log_level: 1,
        ssl: { verify: true, verify_hostname: true, cert: remote.certPath, sni: "localhost" },
      },
      `${dir}/trojan-client.json`,
      (path) => ["-c", path],
    ),
    startConfigured(
      TROJAN,
      {
        run_type: "server",
        local_addr: "127.0.0.1",
        local_port: ports.trojanServer,
        remote_addr: "127.0.0.1",
        remote_port: 9, // its fallback site; nothing here goes there
        password: [CREDENTIAL],
        log_level: 1,
        ssl: { cert: certs.cert, key: certs.key },
      },
      `${dir}/trojan-server.json`,
      (path) => ["-c", path],
    ),
    startConfigured(
      V2RAY,
      {
        log: { loglevel: "warning" },
        inbounds: [{
          listen: "127.0.0.1",
          port: ports.v2Client,
          protocol: "socks",
          settings: { auth: "noauth", udp: true, ip: "127.0.0.1" },
        }],
        outbounds: [{
          protocol: "trojan",
          settings: {
            servers: [{ address: "127.0.0.1", port: remote.port, password: CREDENTIAL }],
          },
          streamSettings: {
            network: "tcp",
            security: "tls",
            tlsSettings: {
              serverName: "localhost",
              certificates: [{ usage: "verify", certificateFile: remote.certPath }],
            },
          },
        }],
      },
      `${dir}/v2ray-client.json`,
      (path) => ["-config", path],
    ),
    startConfigured(
      V2RAY,
      {
        log: { loglevel: "warning" },
        inbounds: [{
          listen: "127.0.0.1",
          port: ports.v2Server,
          protocol: "trojan",
          settings: { clients: [{ password: CREDENTIAL }] },
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
    [ports.trojanClient, ports.trojanServer, ports.v2Client, ports.v2Server].map((port, i) =>
      waitForPort(port, () => thirdParty[i]!.output)
    ),
  );
  // swiftproxy-local against each third-party server (LocalFixture wants a remote's address
  // and CA file; these stand in for one)
  for (const port of [ports.trojanServer, ports.v2Server]) {
    const server = { address: `127.0.0.1:${port}`, certPath: certs.caCert } as RemoteFixture;
    locals.push(await LocalFixture.start(server, "alice", "alice-secret", quietLocalArgs(dir)));
  }
}

const target = { host: "127.0.0.1", port: echo.port };

Deno.test({
  name: "UDP interop: Debian's trojan client through swiftproxy-remote",
  ignore: missing,
  async fn() {
    assertEquals(await pysocksEcho(ports.trojanClient, target, SIZES), ALL);
  },
});

Deno.test({
  name: "UDP interop: V2Ray's Trojan outbound through swiftproxy-remote",
  ignore: missing,
  async fn() {
    assertEquals(await pysocksEcho(ports.v2Client, target, V2RAY_SIZES), V2RAY_ALL);
  },
});

Deno.test({
  name: "UDP interop: swiftproxy-local through Debian's trojan server",
  ignore: missing,
  async fn() {
    assertEquals(await pysocksEcho(locals[0]!.port, target, SIZES), ALL);
  },
});

Deno.test({
  name: "UDP interop: swiftproxy-local through V2Ray's Trojan inbound",
  ignore: missing,
  async fn() {
    assertEquals(await pysocksEcho(locals[1]!.port, target, V2RAY_SIZES), V2RAY_ALL);
  },
});

Deno.test("teardown", async () => {
  await Promise.all(locals.map((local) => local.stop()));
  await Promise.all(thirdParty.map((program) => program.stop()));
  await echo.close();
  await remote.stop();
  await Deno.remove(dir, { recursive: true });
});
