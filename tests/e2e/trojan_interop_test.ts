/**
 * Interop with Debian's `trojan` (/usr/bin/trojan): its client through swiftproxy-remote
 * (password `NAME:PASSWORD`), and swiftproxy-local through a trojan server; byte-exact.
 */
import { assertEquals } from "../_assert.ts";
import {
  curl,
  freePort,
  LocalFixture,
  randomBytes,
  RemoteFixture,
  sha256,
  startOrigin,
} from "../_harness.ts";
import {
  assertSameBytes,
  eventually,
  makeCertificates,
  quietLocalArgs,
  startConfigured,
  waitForPort,
} from "./_e2e.ts";

const TROJAN = "/usr/bin/trojan";
const missing = !(await Deno.stat(TROJAN).then(() => true, () => false));
const decoder = new TextDecoder();
const MiB = 1024 * 1024;

/** Starts trojan with its JSON config in `dir`. */
function startTrojan(config: unknown, dir: string, port: number) {
  return startConfigured(TROJAN, config, `${dir}/trojan-${port}.json`, (path) => ["-c", path]);
}

/** Downloads and uploads through the SOCKS5 proxy at `socks`; both must be byte-exact. */
async function transferBothWays(socks: string, originPort: number, dir: string): Promise<void> {
  const size = 8 * MiB + 123;
  const down = await curl(
    "--socks5-hostname",
    socks,
    `http://localhost:${originPort}/bytes/${size}`,
  );
  assertEquals(down.code, 0, down.stderr);
  await assertSameBytes(down.body, randomBytes(size), "download");

  const data = randomBytes(8 * MiB + 7, 11);
  await Deno.writeFile(`${dir}/up.bin`, data);
  const up = await curl(
    "--socks5-hostname",
    socks,
    "--data-binary",
    `@${dir}/up.bin`,
    `http://127.0.0.1:${originPort}/sha256`,
  );
  assertEquals(up.code, 0, up.stderr);
  assertEquals(JSON.parse(decoder.decode(up.body)), {
    length: data.length,
    sha256: await sha256(data),
  });
}

function clientConfig(remote: RemoteFixture, port: number) {
  return {
    run_type: "client",
    local_addr: "127.0.0.1",
    local_port: port,
    remote_addr: "127.0.0.1",
    remote_port: remote.port,
    password: ["alice:alice-secret"],
    log_level: 1,
    ssl: { verify: true, verify_hostname: true, cert: remote.certPath, sni: "localhost" },
  };
}

Deno.test({
  name: "Debian's trojan client through swiftproxy-remote",
  ignore: missing,
  async fn() {
    const remote = await RemoteFixture.start();
    const origin = startOrigin("127.0.0.1");
    const dir = await Deno.makeTempDir({ prefix: "swiftproxy-e2e-trojan-client-" });
    const port = freePort();
    const trojan = startTrojan(clientConfig(remote, port), dir, port);
    try {
      await waitForPort(port, () => trojan.output);
      await transferBothWays(`127.0.0.1:${port}`, origin.port, dir);
      await eventually(
        () => /alice .*-> 127\.0\.0\.1:\d+ up=\d+ down=\d+/.test(remote.program.output),
        "the remote's access line for alice",
      );
    } finally {
      await trojan.stop();
      await origin.close();
      await remote.stop();
      await Deno.remove(dir, { recursive: true });
    }
  },
});

Deno.test({
  name: "swiftproxy-local through Debian's trojan server",
  ignore: missing,
  async fn() {
    const origin = startOrigin("127.0.0.1");
    const dir = await Deno.makeTempDir({ prefix: "swiftproxy-e2e-trojan-server-" });
    const certs = await makeCertificates(dir);
    const port = freePort();
    const trojan = startTrojan(
      {
        run_type: "server",
        local_addr: "127.0.0.1",
        local_port: port,
        // Where trojan sends connections without a valid password (its fallback site).
        remote_addr: "127.0.0.1",
        remote_port: origin.port,
        password: ["alice:alice-secret"],
        log_level: 1,
        ssl: { cert: certs.cert, key: certs.key },
      },
      dir,
      port,
    );
    // LocalFixture wants a remote; this stands in for the trojan server.
    const remote = {
      address: `127.0.0.1:${port}`,
      certPath: certs.caCert,
    } as RemoteFixture;
    let local: LocalFixture | null = null;
    try {
      await waitForPort(port, () => trojan.output);
      local = await LocalFixture.start(remote, "alice", "alice-secret", quietLocalArgs(dir));
      await transferBothWays(local.address, origin.port, dir);
      const http = await curl(
        "-x",
        `http://${local.address}`,
        `http://127.0.0.1:${origin.port}/bytes/100000`,
      );
      assertEquals(http.code, 0, http.stderr);
      await assertSameBytes(http.body, randomBytes(100000), "HTTP forwarding through trojan");
    } finally {
      await local?.stop();
      await trojan.stop();
      await origin.close();
      await Deno.remove(dir, { recursive: true });
    }
  },
});
