/// <reference lib="dom" />
/**
 * With rules, the dashboard shows each connection's route and the rule that chose it, splits
 * the totals into through-the-server and direct (in Chromium), and `/proxy.pac` sends the
 * names a leading DOMAIN-SUFFIX rule marks DIRECT straight from the browser; a Connect from
 * the page keeps the rules in the saved settings.
 */
import { assert, assertEquals } from "../_assert.ts";
import { freePort, RemoteFixture } from "../_harness.ts";
import { closeQuietly, readExactly, socksRequest, writeAll } from "../e2e/_e2e.ts";
import { startEcho } from "../_net.ts";
import { DashboardFixture, loginFor } from "./_dashboard.ts";
import { launch, text } from "./_chromium.ts";

Deno.test("in Chromium: each row shows its route and rule, the totals are split, the PAC sends direct names DIRECT", async () => {
  const remote = await RemoteFixture.start();
  const directEcho = startEcho();
  const proxiedEcho = startEcho();
  const rulesPath = `${remote.dir}/rules.yaml`;
  await Deno.writeTextFile(
    rulesPath,
    [
      "rules:",
      "  - DOMAIN-SUFFIX,direct.example,DIRECT",
      "  - DOMAIN,ads.example,REJECT",
      `  - DST-PORT,${directEcho.port},DIRECT`,
      "  - DOMAIN-SUFFIX,late.example,DIRECT",
      "  - MATCH,PROXY",
      "",
    ].join("\n"),
  );
  const dashboard = await DashboardFixture.start(["--rules", rulesPath]);
  const chromium = await launch();
  const open: Deno.Conn[] = [];
  try {
    const listenPort = freePort();
    const connected = await dashboard.post("/api/connect", loginFor(remote, listenPort));
    assertEquals(connected.status, 200, JSON.stringify(connected.body));
    // The form holds no rules: a Connect saves the settings with the rules as they were.
    const saved = JSON.parse(await Deno.readTextFile(dashboard.settingsPath));
    assertEquals(saved.rules, rulesPath, "the saved settings' rules");
    // Two connections held open: 300 KB each way direct, 20 KB through the server.
    const held: [number, number][] = [[directEcho.port, 300_000], [proxiedEcho.port, 20_000]];
    for (const [port, size] of held) {
      const { conn, rep } = await socksRequest(listenPort, { host: "127.0.0.1", port });
      assertEquals(rep, 0, `SOCKS5 reply for port ${port}`);
      open.push(conn);
      const bytes = new Uint8Array(size).fill(7);
      await Promise.all([writeAll(conn, bytes), readExactly(conn, size)]);
    }
    const rejected = await socksRequest(listenPort, { host: "ads.example", port: 443 });
    closeQuietly(rejected.conn);
    assertEquals(rejected.rep, 0x02, "REJECT's REP");

    const status = await (await fetch(`${dashboard.origin}/api/status`)).json();
    assertEquals(status.totals, { up: 320_000, down: 320_000 }, "all bytes");
    assertEquals(status.direct.totals, { up: 300_000, down: 300_000 }, "direct bytes");

    const page = await chromium.browser.newPage();
    await page.goto(dashboard.origin, { waitUntil: "load" });
    await page.waitForSelector("body[data-state=listening]");
    await page.waitForSelector("#connections tr.failed", { timeout: 10_000 });
    const rows = await page.$$eval("#connections tr", (trs) => trs.map((tr) => tr.textContent));
    // The whole port: ":443" is also the start of a port such as 44355 (failed once so).
    const row = (port: number) => rows.find((r) => new RegExp(`:${port}(?!\\d)`).test(r!)) ?? "";
    assert(
      row(directEcho.port).includes(`direct · DST-PORT,${directEcho.port},DIRECT`),
      rows.join("\n"),
    );
    assert(row(proxiedEcho.port).includes("through the server · MATCH,PROXY"), rows.join("\n"));
    assert(row(443).includes("rejected · DOMAIN,ads.example,REJECT"), rows.join("\n"));
    const split = await text(page, "#traffic-card .rate .split");
    assert(/through the server 19\.5 KiB .*· direct 293 KiB/.test(split), split);

    const pac = await (await fetch(`${dashboard.origin}/proxy.pac`)).text();
    const find = new Function(`${pac}; return FindProxyForURL;`)() as (
      u: string,
      h: string,
    ) => string;
    const via = (host: string) => find(`http://${host}/`, host);
    assertEquals(via("www.direct.example"), "DIRECT");
    assertEquals(via("direct.example."), "DIRECT");
    assert(via("ads.example").startsWith("SOCKS5 127.0.0.1:"), "a rejected name goes to the proxy");
    assert(via("notdirect.example").startsWith("SOCKS5"), "a name no rule names");
    // Past the DST-PORT rule the browser cannot tell: the local decides.
    assert(via("www.late.example").startsWith("SOCKS5"), "a name after a port rule");
  } finally {
    for (const conn of open) closeQuietly(conn);
    await chromium.close();
    await dashboard.stop();
    await Promise.all([directEcho.close(), proxiedEcho.close()]);
    await remote.stop();
  }
});
