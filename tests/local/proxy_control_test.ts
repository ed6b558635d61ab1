/**
 * ProxyControl in process, against a real remote: one subscription to its session events
 * sees every finished client connection, across Disconnect and Connect.
 */
import { assert, assertEquals } from "../_assert.ts";
import { curl, delay, freePort, RemoteFixture, startOrigin } from "../_harness.ts";
import { ProxyControl } from "../../lib/local/control/proxy_control.ts";
import { LOCAL_DEFAULTS } from "../../lib/local/inbound/config.ts";
import type { SessionEnd } from "../../lib/common/ops/session_events.ts";

async function next(ends: SessionEnd[], count: number): Promise<SessionEnd> {
  for (let waited = 0; ends.length < count && waited < 10_000; waited += 20) await delay(20);
  assertEquals(ends.length, count, "no session record arrived");
  return ends[count - 1]!;
}

Deno.test("one subscription to ProxyControl.events sees each finished connection, across reconnects", async () => {
  const remote = await RemoteFixture.start();
  const origin = startOrigin();
  const port = freePort();
  const control = new ProxyControl(
    {
      listen: `127.0.0.1:${port}`,
      remote: remote.address,
      ca: remote.certPath,
      serverName: "",
      user: "alice",
      password: "alice-secret",
      remember: false,
    },
    { ...LOCAL_DEFAULTS, preconnect: 0 },
    { refreshMs: 0 },
  );
  const ends: SessionEnd[] = [];
  const unsubscribe = control.events.subscribe((end) => ends.push(end));
  const url = `http://127.0.0.1:${origin.port}/bytes/5000`;
  try {
    await control.connect(control.settings, { save: false });
    assertEquals((await curl("-x", `http://127.0.0.1:${port}`, url, "-o", "/dev/null")).code, 0);
    const http = await next(ends, 1);
    assertEquals(
      [http.user, http.protocol, http.command, http.destination],
      ["alice", "HTTP", "connect", `127.0.0.1:${origin.port}`],
    );
    assert(http.down > 5000, `down=${http.down}`);

    await control.disconnect();
    await control.connect(control.settings, { check: false, save: false });
    const proxy = `socks5h://127.0.0.1:${port}`;
    assertEquals((await curl("-x", proxy, url, "-o", "/dev/null")).code, 0);
    const socks = await next(ends, 2);
    assertEquals([socks.protocol, socks.destination], ["SOCKS5", `127.0.0.1:${origin.port}`]);
    assert(socks.down > 5000 && socks.up > 0, `up=${socks.up} down=${socks.down}`);
  } finally {
    unsubscribe();
    await control.disconnect();
    await origin.close();
    await remote.stop();
  }
});
