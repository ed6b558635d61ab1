/**
 * The admin panel lists each open session with its real command: a UDP association an app
 * opened through the local shows as `udp` (with its first destination), a TCP connection beside
 * it as `connect`.
 */
import { assertEquals } from "../_assert.ts";
import { delay } from "../_harness.ts";
import { InProcessLocal } from "../_inprocess.ts";
import { AdminClient, startAdmin } from "../remote/admin/_admin.ts";
import { EchoServer, SocksUdpClient } from "./_udp.ts";

Deno.test("the admin API lists a UDP association as udp and a TCP connection as connect", async () => {
  await using cleanup = new AsyncDisposableStack();
  const admin = cleanup.adopt(await startAdmin(), (a) => a.stop());
  const local = cleanup.adopt(await InProcessLocal.start(admin.remote), (l) => l.stop());
  const echo = cleanup.adopt(new EchoServer(), (e) => e.close());
  const client = new AdminClient(admin.origin);
  assertEquals((await client.login()).status, 200);

  // A UDP association with one datagram through it, and a TCP tunnel to the echo's port.
  const udp = cleanup.adopt(await SocksUdpClient.open(local.port), (u) => u.close());
  await udp.send({ host: "127.0.0.1", port: echo.port }, new TextEncoder().encode("ping"));
  assertEquals(new TextDecoder().decode((await udp.receive())?.payload), "ping");
  const tcpSite = cleanup.adopt(
    Deno.listen({ hostname: "127.0.0.1", port: 0 }),
    (l) => l.close(),
  );
  const tcp = cleanup.adopt(
    await Deno.connect({ hostname: "127.0.0.1", port: local.port }),
    (c) => c.close(),
  );
  await tcp.write(new Uint8Array([5, 1, 0]));
  await tcp.read(new Uint8Array(2));
  const port = tcpSite.addr.port;
  await tcp.write(new Uint8Array([5, 1, 0, 1, 127, 0, 0, 1, port >> 8, port & 0xff]));
  await tcp.read(new Uint8Array(10));

  type Listed = { command: string; destination: string };
  let listed: Listed[] = [];
  for (let i = 0; i < 50 && listed.length < 2; i++) {
    await delay(50);
    listed = (await client.call("GET", "/api/users/alice/connections")).body;
  }
  assertEquals(
    listed.map((c) => [c.command, c.destination]).sort(),
    [["connect", `127.0.0.1:${port}`], ["udp", `127.0.0.1:${echo.port}`]].sort(),
  );
});
