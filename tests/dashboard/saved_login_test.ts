/**
 * The saved password stays with the remote and account it was entered for: another program on
 * this computer (no `Origin` header, so the dashboard's foreign-page guard does not apply)
 * cannot make the local send it elsewhere, nor open the account to the LAN, by posting
 * `"password": ""` to /api/connect.
 */
import { assert, assertEquals } from "../_assert.ts";
import { delay, freePort, RemoteFixture } from "../_harness.ts";
import { DashboardFixture, loginFor } from "./_dashboard.ts";

/** A loopback TCP port that counts the connections it accepts (and closes them). */
function countingListener(): { port: number; accepted(): number; close(): void } {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  let accepted = 0;
  (async () => {
    for await (const conn of listener) {
      accepted++;
      conn.close();
    }
  })().catch(() => {});
  return { port: listener.addr.port, accepted: () => accepted, close: () => listener.close() };
}

/** POSTs like a local program does: no Origin header. */
async function postFromProgram(dashboard: DashboardFixture, body: unknown) {
  const response = await fetch(`${dashboard.origin}/api/connect`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify(body),
  });
  return { status: response.status, body: await response.json() };
}

Deno.test("an empty password with another remote, name, CA file or server name is refused: nothing sent, nothing saved", async () => {
  const remote = await RemoteFixture.start();
  const dashboard = await DashboardFixture.start();
  const other = countingListener();
  try {
    const login = { ...loginFor(remote, freePort()), remember: true };
    const connected = await dashboard.post("/api/connect", login);
    assertEquals(connected.status, 200, JSON.stringify(connected.body));
    const saved = await Deno.readFile(dashboard.settingsPath);
    const otherCa = `${dashboard.dir}/other-ca.pem`;
    await Deno.copyFile(remote.certPath, otherCa);

    const attacks: Record<string, unknown>[] = [
      { remote: `127.0.0.1:${other.port}`, ca: otherCa },
      { remote: `127.0.0.1:${other.port}` },
      { user: "bob" },
      { ca: otherCa },
      { serverName: "evil.example" },
    ];
    for (const change of attacks) {
      const result = await postFromProgram(dashboard, { ...login, password: "", ...change });
      const what = JSON.stringify(change);
      assertEquals(result.status, 400, `${what}: ${JSON.stringify(result.body)}`);
      assertEquals(result.body.problem.kind, "settings", what);
      assert(
        /^Enter the password again: the .* changed/.test(result.body.problem.message),
        result.body.problem.message,
      );
    }
    await delay(300);
    assertEquals(other.accepted(), 0, "the other remote was contacted");
    assertEquals(await Deno.readFile(dashboard.settingsPath), saved, "the settings file changed");
    const status = await (await fetch(`${dashboard.origin}/api/status`)).json();
    assertEquals([status.state, status.remote, status.user], [
      "listening",
      remote.address,
      "alice",
    ]);

    // With the password typed, the change goes ahead (and the counter does count).
    const typed = await postFromProgram(dashboard, {
      ...login,
      remote: `127.0.0.1:${other.port}`,
    });
    assertEquals(typed.status, 502, JSON.stringify(typed.body));
    assert(other.accepted() >= 1, "the counting remote saw nothing");
    assertEquals(await Deno.readFile(dashboard.settingsPath), saved);
  } finally {
    other.close();
    await dashboard.stop();
    await remote.stop();
  }
});

Deno.test("moving the proxy to all addresses without a SOCKS5 login needs the password, then warns of an open proxy", async () => {
  const remote = await RemoteFixture.start();
  const dashboard = await DashboardFixture.start();
  try {
    const login = loginFor(remote, freePort());
    assertEquals((await dashboard.post("/api/connect", login)).status, 200);
    const open = { ...login, listen: `0.0.0.0:${freePort()}` };
    const refused = await postFromProgram(dashboard, { ...open, password: "" });
    assertEquals(refused.status, 400, JSON.stringify(refused.body));
    assert(/password again .*open proxy/.test(refused.body.problem.message));
    assertEquals(refused.body.problem.kind, "settings");

    const shared = await dashboard.post("/api/connect", open);
    assertEquals(shared.status, 200, JSON.stringify(shared.body));
    assert(/^Open proxy: .*SOCKS5 login/.test(shared.body.warning), shared.body.warning);
    await dashboard.program.waitFor(/without --socks-user: .*open proxy/);
    await dashboard.post("/api/disconnect");
  } finally {
    await dashboard.stop();
    await remote.stop();
  }
});
