/**
 * The Account card is current: it counts this local's open connections and bytes as they
 * happen, and while traffic flows it asks the remote again every 2 s, so usage from the same
 * account elsewhere (another computer, another local) shows within seconds.
 */
import { assert, assertEquals } from "../_assert.ts";
import { curl, delay, freePort, LocalFixture, RemoteFixture, startOrigin } from "../_harness.ts";
import { DashboardFixture, loginFor } from "./_dashboard.ts";

Deno.test("the Account card shows this local's connections and bytes now, and asks the remote again every 2 s while traffic flows", async () => {
  const remote = await RemoteFixture.start();
  await remote.user("set", "alice", "--quota", "1GiB");
  const dashboard = await DashboardFixture.start();
  const origin = startOrigin();
  const socket = dashboard.socket();
  let elsewhere: LocalFixture | undefined;
  let stopTrickle = async () => {};
  try {
    const listenPort = freePort();
    const connected = await dashboard.post("/api/connect", loginFor(remote, listenPort));
    assertEquals(connected.status, 200, JSON.stringify(connected.body));
    const idle = connected.body.account;

    // A slow download through this local, going on until the test ends (more than the
    // socket buffers on the way can hold, so it stays open and keeps moving). Slow because
    // curl's output is read 64 KiB at a time every 100 ms, not by --limit-rate: that one
    // catches up in bursts after a slow start and then pauses for seconds, with no traffic.
    const trickle = new Deno.Command("curl", {
      args: [
        "-sS",
        "-x",
        `socks5h://127.0.0.1:${listenPort}`,
        `http://127.0.0.1:${origin.port}/bytes/200000000`,
      ],
      stdout: "piped",
      stderr: "null",
    }).spawn();
    const drained = (async () => {
      const reader = trickle.stdout.getReader();
      while (!(await reader.read()).done) await delay(100);
    })().catch(() => {});
    stopTrickle = async () => {
      trickle.kill();
      await trickle.status;
      await drained;
    };
    const busy = await socket.next((s) => s.open === 1 && s.totals.down > 300_000);
    assertEquals(
      busy.account!.openConnections,
      idle.openConnections + 1,
      "the card counts the connection the table lists",
    );
    // At least what this local moved; more once the remote answers again, as it counts the
    // bytes it has sent that are still on their way (socket buffers hold megabytes).
    const shown = busy.account!.usage.down - idle.usage.down;
    assert(
      shown >= busy.totals.down,
      `the card shows ${shown} bytes used since Connect; the local moved ${busy.totals.down}`,
    );

    // The same account used from another local: the card has it within about 2 s.
    elsewhere = await LocalFixture.start(remote);
    const other = await curl(
      "-x",
      `socks5h://${elsewhere.address}`,
      `http://127.0.0.1:${origin.port}/bytes/5000000`,
      "-o",
      "/dev/null",
    );
    assertEquals(other.code, 0, other.stderr);
    const done = performance.now();
    const caught = await socket.next(
      (s) => s.account!.usage.down - idle.usage.down >= s.totals.down + 5_000_000,
      10_000,
    );
    const after = performance.now() - done;
    // 2 s between questions, up to 1 s to the next message, and slack for a loaded machine.
    assert(after < 5_000, `the other local's bytes showed after ${after.toFixed(0)} ms`);
    assert(caught.open === 1, "the slow download is still going");
  } finally {
    await stopTrickle();
    await socket.close();
    await elsewhere?.stop();
    await origin.close();
    await dashboard.stop();
    await remote.stop();
  }
});
