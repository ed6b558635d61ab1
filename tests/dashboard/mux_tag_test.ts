/**
 * With `--mux`, the dashboard tags each open connection with the tunnel it shares (`#1`), in
 * its status messages and on the page; without it, no tag.
 */
import { assertEquals } from "../_assert.ts";
import { curl, freePort, RemoteFixture, startOrigin } from "../_harness.ts";
import { DashboardFixture, loginFor } from "./_dashboard.ts";

Deno.test("--mux 1: the connections' rows name the one tunnel they share", async () => {
  const remote = await RemoteFixture.start();
  // The rate limit keeps the downloads open for a few seconds.
  await remote.user("set", "alice", "--down", "1MiB");
  const dashboard = await DashboardFixture.start(["--mux", "1"]);
  const origin = startOrigin();
  const socket = dashboard.socket();
  try {
    await socket.opened;
    const listenPort = freePort();
    const connected = await dashboard.post("/api/connect", loginFor(remote, listenPort));
    assertEquals(connected.status, 200, JSON.stringify(connected.body));
    const proxy = `socks5h://127.0.0.1:${listenPort}`;
    const url = `http://127.0.0.1:${origin.port}/bytes/3000000`;
    const downloads = [1, 2].map(() => curl("-x", proxy, url, "-o", "/dev/null"));
    // A row is shown from the accept; its tunnel once the sub-connection is placed on one.
    const busy = await socket.next((s) =>
      s.open >= 2 && s.connections.length >= 2 && s.connections.every((row) => row.tunnel)
    );
    assertEquals(busy.connections.map((row) => row.tunnel), [1, 1]);
    for (const download of await Promise.all(downloads)) assertEquals(download.code, 0);
  } finally {
    await socket.close();
    await origin.close();
    await dashboard.stop();
    await remote.stop();
  }
});
