/**
 * The local's listeners out of file descriptors, under `ulimit -n 256`: half-sent requests to
 * the dashboard (at most 64 held, each closed at the 10 s deadline), then idle connections to
 * the proxy using the descriptors up. The local must stay up, and the dashboard and the proxy
 * answer again once the descriptors are free.
 */
import { assert, assertEquals } from "../_assert.ts";
import {
  curl,
  delay,
  freePort,
  localArgs,
  Program,
  RemoteFixture,
  startOrigin,
} from "../_harness.ts";
import { alive, stall, status, until } from "./_helpers.ts";

const NOFILE = 256;
const FLOOD = 240;
const MAX_CONNECTIONS = 64;

Deno.test("descriptors: idle connections to the dashboard or the proxy do not end the local", async () => {
  const origin = startOrigin();
  const remote = await RemoteFixture.start();
  const dir = await Deno.makeTempDir({ prefix: "swiftproxy-dashboard-" });
  const uiPort = freePort();
  const proxyPort = freePort();
  const local = new Program(
    localArgs(
      "--listen",
      `127.0.0.1:${proxyPort}`,
      "--remote",
      remote.address,
      "--user",
      "alice",
      "--ca",
      remote.certPath,
      "--ui",
      `127.0.0.1:${uiPort}`,
      "--config",
      `${dir}/local.json`,
    ),
    { env: { SWIFTPROXY_PASSWORD: "alice-secret" }, nofile: NOFILE },
  );
  const running = alive(local);
  const page = `http://127.0.0.1:${uiPort}/`;
  const download = async () => {
    const got = await curl(
      "--max-time",
      "5",
      "-x",
      `socks5h://127.0.0.1:${proxyPort}`,
      `http://127.0.0.1:${origin.port}/bytes/100000`,
    );
    assertEquals(got.code, 0, `download through the local: ${got.stderr}\n${local.output}`);
  };
  try {
    await local.waitFor(/proxy on/);
    // The start of a request head, then nothing, to the dashboard.
    const head = new TextEncoder().encode(`GET / HTTP/1.1\r\nHost: 127.0.0.1:${uiPort}\r\n`);
    const slow = await stall(uiPort, FLOOD, head);
    await delay(1_000);
    const held = slow.opened - slow.closedAt.length;
    assert(running(), `the local exited:\n${local.output}`);
    assert(held <= MAX_CONNECTIONS, `the dashboard holds ${held} connections`);
    assertEquals(await status(page), 200, "the dashboard during the flood");
    const deadline = performance.now() + 12_000;
    while (slow.closedAt.length < slow.opened && performance.now() < deadline) await delay(200);
    assertEquals(slow.closedAt.length, slow.opened, "half-sent requests the dashboard closed");
    slow.close();

    // Idle connections to the proxy use the descriptors up; then the dashboard is asked.
    const idle = await stall(proxyPort, FLOOD);
    const during = await status(page, 3_000);
    assert(running(), `the local exited:\n${local.output}`);
    idle.close();
    assertEquals(await until(page, 200, 5_000), 200, "the dashboard after the flood");
    await download();
    assert(running(), "the local is still running");
    console.log(
      `dashboard held at most ${held}; while the proxy's flood: ${during || "no answer"}`,
    );
  } finally {
    await local.stop();
    await remote.stop();
    await origin.close();
    await Deno.remove(dir, { recursive: true }).catch(() => {});
  }
});
