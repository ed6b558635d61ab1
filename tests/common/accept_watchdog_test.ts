/** The accept watchdog: quiet on an idle healthy listener, re-arms one that accepts nothing. */
import net from "node:net";
import { assert, assertEquals } from "../_assert.ts";
import { delay } from "../_harness.ts";
import { AcceptWatchdog } from "../../lib/common/net/accept_watchdog.ts";

Deno.test("watchdog: an idle listener that accepts its probes is never re-armed", async () => {
  const server = net.createServer();
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const port = (server.address() as net.AddressInfo).port;
  let rearmed = 0;
  const watchdog = new AcceptWatchdog({
    hostname: "0.0.0.0",
    port,
    rearm: () => rearmed++,
    intervalMs: 50,
    reserve: 2,
  });
  let accepted = 0;
  server.on("connection", (socket: net.Socket) => {
    accepted++;
    watchdog.noteAccept(socket.remoteAddress, socket.remotePort);
    socket.destroy();
  });
  await delay(1_000);
  watchdog.stop();
  await new Promise((resolve) => server.close(resolve));
  assertEquals(rearmed, 0, "re-armed a healthy listener");
  assert(accepted >= 3, `${accepted} probes were accepted`);
});

Deno.test("watchdog: a listener that accepts nothing is re-armed", async () => {
  // The kernel completes connections into the backlog; nobody accepts them: a stalled loop.
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  let rearmed = 0;
  let shed = 0;
  const watchdog = new AcceptWatchdog({
    hostname: "127.0.0.1",
    port: listener.addr.port,
    rearm: () => rearmed++,
    onStall: () => shed++,
    intervalMs: 50,
    reserve: 2,
  });
  await delay(500);
  watchdog.stop();
  listener.close();
  assert(rearmed >= 1 && shed === rearmed, `re-armed ${rearmed} times, shed ${shed} times`);
});
