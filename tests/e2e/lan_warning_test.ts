/** The local shared on a LAN: binding beyond loopback without a SOCKS5 login warns of an open proxy. */
import { assert } from "../_assert.ts";
import { freePort, localArgs, Program } from "../_harness.ts";
import { quietLocalArgs } from "./_e2e.ts";

async function startedOutput(listen: string, extra: string[]): Promise<string> {
  const dir = await Deno.makeTempDir({ prefix: "swiftproxy-lan-" });
  // Nothing is sent anywhere: the remote is a closed loopback port, and no client connects.
  const program = new Program(
    localArgs(
      "--listen",
      listen,
      "--remote",
      `127.0.0.1:${freePort()}`,
      "--user",
      "alice",
      ...extra,
      ...quietLocalArgs(dir),
    ),
    { env: { SWIFTPROXY_PASSWORD: "alice-secret" } },
  );
  try {
    await program.waitFor(/proxy on/);
    await new Promise((r) => setTimeout(r, 300));
    return program.output;
  } finally {
    await program.stop();
    await Deno.remove(dir, { recursive: true });
  }
}

Deno.test("a local bound to all addresses without --socks-user warns that it is an open proxy", async () => {
  const output = await startedOutput(`0.0.0.0:${freePort()}`, []);
  assert(/without --socks-user: .*open proxy/.test(output), output);
});

Deno.test("with --socks-user, or on loopback, there is no open-proxy warning", async () => {
  const login = ["--socks-user", "lan", "--socks-pass", "lan-password"];
  const shared = await startedOutput(`0.0.0.0:${freePort()}`, login);
  assert(!/open proxy/.test(shared), shared);
  const loopback = await startedOutput(`127.0.0.1:${freePort()}`, []);
  assert(!/open proxy/.test(loopback), loopback);
});
