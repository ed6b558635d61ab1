/**
 * SOCKS5 UDP ASSOCIATE end to end: a real client (PySocks) through swiftproxy-local and
 * swiftproxy-remote to UDP echo servers on loopback, and what the local drops.
 */
import { assert, assertEquals } from "../_assert.ts";
import { startChain } from "../_harness.ts";
import { EchoServer, pattern, pysocksEcho, SocksUdpClient } from "./_udp.ts";

const SIZES = [1, 512, 1400, 8000];
const chain = await startChain(["--udp-timeout", "1.5"]);
const echo4 = new EchoServer("127.0.0.1");
const echo6 = new EchoServer("::1");

Deno.test("UDP: PySocks gets every echo back byte-exact from 127.0.0.1, [::1] and localhost", async () => {
  const all = Object.fromEntries(SIZES.map((size) => [String(size), true]));
  assertEquals(await pysocksEcho(chain.local.port, { host: "127.0.0.1", port: echo4.port }, SIZES), all);
  assertEquals(await pysocksEcho(chain.local.port, { host: "::1", port: echo6.port }, SIZES), all);
  // "localhost" goes to the remote as a name; it resolves there (to 127.0.0.1 or ::1)
  const byName = echo4.port;
  const results = await pysocksEcho(chain.local.port, { host: "localhost", port: byName }, SIZES);
  assertEquals(results, all);
  await chain.local.program.waitFor(/SOCKS5 127\.0\.0\.1:\d+ UDP first to 127\.0\.0\.1:\d+ datagrams up=4 down=4 up=9913 down=9913/);
});

Deno.test("teardown", async () => {
  await echo4.close();
  await echo6.close();
  await chain.stop();
});
