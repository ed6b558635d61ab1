/** A UDP association in the dashboard's connections list: type UDP, datagram counts. */
import { assert, assertEquals } from "../_assert.ts";
import { freePort, RemoteFixture } from "../_harness.ts";
import { DashboardFixture, loginFor } from "../dashboard/_dashboard.ts";
import { EchoServer, pattern, SocksUdpClient } from "./_udp.ts";

Deno.test("dashboard: a UDP association is listed as UDP with its datagrams each way", async () => {
  const [remote, dashboard] = await Promise.all([RemoteFixture.start(), DashboardFixture.start()]);
  const echo = new EchoServer();
  const socket = dashboard.socket();
  let client: SocksUdpClient | undefined;
  try {
    await socket.opened;
    const listenPort = freePort();
    const connected = await dashboard.post("/api/connect", loginFor(remote, listenPort));
    assertEquals(connected.status, 200, JSON.stringify(connected.body));
    client = await SocksUdpClient.open(listenPort);
    for (let i = 0; i < 3; i++) {
      await client.send({ host: "127.0.0.1", port: echo.port }, pattern(1000));
      assert(await client.receive(), `echo ${i}`);
    }
    const status = await socket.next((s) => s.connections.some((c) => c.datagrams?.down === 3));
    const row = status.connections.find((c) => c.protocol === "UDP")!;
    assertEquals(row.destination, `127.0.0.1:${echo.port}`);
    assertEquals(row.datagrams, { up: 3, down: 3 });
    assertEquals([row.up, row.down], [3000, 3000]);
  } finally {
    client?.close();
    await socket.close();
    await echo.close();
    await dashboard.stop();
    await remote.stop();
  }
});
