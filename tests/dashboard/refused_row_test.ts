/// <reference lib="dom" />
/**
 * A connection the remote refused stays on the dashboard's list for a while, closed, with the
 * reason the remote gave (through the account status), in Chromium.
 */
import { assert, assertEquals } from "../_assert.ts";
import { curl, freePort, RemoteFixture } from "../_harness.ts";
import { DashboardFixture, loginFor } from "./_dashboard.ts";
import { launch, text } from "./_chromium.ts";

Deno.test("in Chromium: a refused connection's row says why the remote refused it", async () => {
  const remote = await RemoteFixture.start();
  const dashboard = await DashboardFixture.start();
  const chromium = await launch();
  try {
    const listenPort = freePort();
    const connected = await dashboard.post("/api/connect", loginFor(remote, listenPort));
    assertEquals(connected.status, 200, JSON.stringify(connected.body));
    const page = await chromium.browser.newPage();
    await page.goto(dashboard.origin, { waitUntil: "load" });
    await page.waitForSelector("body[data-state=listening]");
    const where = `127.0.0.1:${freePort()}`;
    const out = await curl("--socks5-hostname", `127.0.0.1:${listenPort}`, `http://${where}/`);
    assert(out.code !== 0, "curl got through to a closed port");
    await page.waitForSelector("#connections tr.failed", { timeout: 10_000 });
    const row = await text(page, "#connections tr.failed");
    assert(row.includes(where), row);
    assert(row.includes(`${where} refused the remote's connection`), row);
  } finally {
    await chromium.close();
    await dashboard.stop();
    await remote.stop();
  }
});
