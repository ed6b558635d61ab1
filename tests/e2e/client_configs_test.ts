/**
 * The third-party client configs in docs/CLIENTS.md work as written: each block marked
 * `<!-- config: NAME -->` is run by its program (Debian's trojan, V2Ray) with only the
 * server's address, port, password and certificate path replaced, and a download through it
 * is byte-exact.
 */
import { assertEquals } from "../_assert.ts";
import { curl, freePort, randomBytes, RemoteFixture, ROOT, startOrigin } from "../_harness.ts";
import { assertSameBytes, startConfigured, waitForPort } from "./_e2e.ts";

const PROGRAMS: Record<string, { binary: string; args: (path: string) => string[] }> = {
  trojan: { binary: "/usr/bin/trojan", args: (path) => ["-c", path] },
  v2ray: { binary: "/usr/bin/v2ray", args: (path) => ["-config", path] },
};
const installed = (path: string) => Deno.stat(path).then(() => true, () => false);

/** The JSON block after each `<!-- config: NAME -->` marker of docs/CLIENTS.md. */
function documentedConfigs(): Map<string, string> {
  const text = Deno.readTextFileSync(`${ROOT}docs/CLIENTS.md`);
  const configs = new Map<string, string>();
  for (const match of text.matchAll(/<!-- config: (\w+) -->\s*```json\n([\s\S]*?)```/g)) {
    configs.set(match[1]!, match[2]!);
  }
  return configs;
}

/** The documented config pointed at `remote`, with the SOCKS5 port `socksPort`. */
function pointedAt(config: string, remote: RemoteFixture, socksPort: number): string {
  return config
    .replaceAll('"vpn.example.org"', '"localhost"')
    .replaceAll("8443", String(remote.port))
    .replaceAll("1080", String(socksPort))
    .replaceAll("alice:PASSWORD", "alice:alice-secret")
    .replaceAll("/etc/swiftproxy/cert.pem", remote.certPath);
}

Deno.test("docs/CLIENTS.md has a runnable config for Debian's trojan and for V2Ray", () => {
  assertEquals([...documentedConfigs().keys()].sort(), ["trojan", "v2ray"]);
});

Deno.test("each documented client config downloads byte-exact through swiftproxy-remote", async (t) => {
  const remote = await RemoteFixture.start();
  const origin = startOrigin("127.0.0.1");
  const dir = await Deno.makeTempDir({ prefix: "swiftproxy-client-configs-" });
  try {
    for (const [name, config] of documentedConfigs()) {
      const program = PROGRAMS[name]!;
      await t.step({
        name,
        ignore: !(await installed(program.binary)),
        async fn() {
          const port = freePort();
          const parsed = JSON.parse(pointedAt(config, remote, port));
          const running = startConfigured(
            program.binary,
            parsed,
            `${dir}/${name}.json`,
            program.args,
          );
          try {
            await waitForPort(port, () => running.output);
            const size = 3 * 1024 * 1024 + 17;
            const down = await curl(
              "--socks5-hostname",
              `127.0.0.1:${port}`,
              `http://127.0.0.1:${origin.port}/bytes/${size}`,
            );
            assertEquals(down.code, 0, down.stderr);
            await assertSameBytes(down.body, randomBytes(size), name);
          } finally {
            await running.stop();
          }
        },
      });
    }
  } finally {
    await origin.close();
    await remote.stop();
    await Deno.remove(dir, { recursive: true });
  }
});
