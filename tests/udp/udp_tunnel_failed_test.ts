/**
 * A UDP association whose tunnel cannot be opened counts as a failed tunnel, as a TCP
 * connection's does: the app gets the REP that fits, the access line says `tunnel-failed`, and
 * a local whose tunnels worked checks the account again and says why in words.
 */
import { assert, assertRejects } from "../_assert.ts";
import { curl, spawnLocal, startOrigin } from "../_harness.ts";
import { InProcessRemote } from "../_inprocess.ts";
import { quietLocalArgs } from "../e2e/_e2e.ts";
import { SocksUdpClient } from "./_udp.ts";

Deno.test("a UDP association whose tunnel fails makes the local check the account again", async () => {
  await using cleanup = new AsyncDisposableStack();
  const dir = await Deno.makeTempDir({ prefix: "swiftproxy-test-" });
  cleanup.defer(() => Deno.remove(dir, { recursive: true }).catch(() => {}));
  const remote = await InProcessRemote.start();
  let remoteUp = true;
  cleanup.defer(async () => {
    if (remoteUp) await remote.stop();
  });
  const ca = await Deno.readTextFile(remote.certPath);
  await Deno.writeTextFile(`${dir}/ca.pem`, ca);
  const { program, port } = await spawnLocal([
    "--remote",
    remote.address,
    "--user",
    "alice",
    "--ca",
    `${dir}/ca.pem`,
    "--preconnect",
    "0",
    ...quietLocalArgs(dir),
  ]);
  cleanup.defer(async () => void await program.stop());
  const origin = startOrigin();
  cleanup.defer(() => origin.close());

  // Tunnels work: the watch knows it, so a failed tunnel later is worth a check.
  await program.waitFor(/logged in to 127\.0\.0\.1:\d+ as alice/);
  const proxy = ["--socks5-hostname", `127.0.0.1:${port}`];
  assert((await curl(...proxy, `http://127.0.0.1:${origin.port}/`)).code === 0);

  // The remote goes away: the association's tunnel is refused (no pool to hide it).
  await remote.stop();
  remoteUp = false;
  await assertRejects(() => SocksUdpClient.open(port), Error, "REP 5");
  await program.waitFor(/\[WRN\].*tunnels to 127\.0\.0\.1:\d+ fail: Remote unreachable/, 10_000);
  await program.waitFor(/UDP first to - .*closed: tunnel-failed \(refused\)/);
});
