/// <reference lib="dom" />
/**
 * The dashboard's layout in a real browser (Debian's headless Chromium through puppeteer-core)
 * at a phone's width and a desktop's, during downloads: nothing cut or wrapped, the chart
 * scaled with its axis labels, the icon shown.
 */
import { assert, assertEquals } from "../_assert.ts";
import { curl, freePort, startOrigin } from "../_harness.ts";
import { DashboardFixture, fileRemote, loginFor, stopFileRemote } from "./_dashboard.ts";
import { closeSharedChromium, sharedContext } from "./_chromium.ts";

/** alice's limits: a steady download, so the rate and chart have a shape. */
const LIMITS = ["--quota", "2GiB", "--up", "1MiB", "--down", "3MiB"];

Deno.test("in Chromium at 390 and 1280 px: nothing cut or wrapped, the chart scaled with axis labels, an icon", async () => {
  const remote = await fileRemote(LIMITS);
  const dashboard = await DashboardFixture.start();
  const origin = startOrigin();
  const chromium = await sharedContext();
  const listenPort = freePort();
  const screens = await Deno.makeTempDir({ prefix: "swiftproxy-screens-" });
  try {
    const connected = await dashboard.post("/api/connect", loginFor(remote, listenPort));
    assertEquals(connected.status, 200, JSON.stringify(connected.body));
    const icon = await fetch(`${dashboard.origin}/favicon.ico`);
    assertEquals(icon.status, 200);
    await icon.body?.cancel();

    // Downloads through the proxy for the rate, the chart and the table.
    const proxy = `http://127.0.0.1:${listenPort}`;
    const downloads = [24_000_000, 3_000_000, 2_000_000].map((size) =>
      curl("-x", proxy, `http://127.0.0.1:${origin.port}/bytes/${size}`, "-o", "/dev/null")
    );
    for (const width of [390, 1280]) {
      const page = await chromium.newPage();
      await page.setViewport({ width, height: 900 });
      const pageErrors: string[] = [];
      page.on("pageerror", (error) => pageErrors.push(String(error)));
      await page.goto(dashboard.origin, { waitUntil: "load" });
      await page.waitForFunction(
        () => document.getElementById("rate-down")!.textContent !== "0 B/s",
        { timeout: 20_000 },
      );
      const seen = await page.evaluate(() => Number(document.body.dataset.updates));
      await page.waitForFunction((n) => Number(document.body.dataset.updates) > (n as number) + 3, {
        timeout: 20_000,
      }, seen);
      const path = `${screens}/dashboard-${width}.png`;
      await page.screenshot({ path, fullPage: true });
      console.log(`screenshot: ${path}`);

      const layout = await page.evaluate(() => {
        const wrapped = [...document.querySelectorAll<HTMLElement>(".rates b, td.num")]
          .filter((el) =>
            el.getClientRects().length > 1 || el.scrollWidth > el.clientWidth + 1 ||
            el.getBoundingClientRect().height > 1.6 * parseFloat(getComputedStyle(el).lineHeight)
          )
          .map((el) => `${el.id || el.className}: ${el.textContent}`);
        const cut = [...document.querySelectorAll<HTMLElement>("#connections td")]
          .filter((el) => el.getBoundingClientRect().right > innerWidth)
          .map((el) => el.textContent);
        const chart = (globalThis as unknown as {
          __chart: {
            scales: { y: { max: number } };
            data: number[][];
            axes: { _values: string[] | null }[]; // uPlot's labels as drawn on the canvas
          };
        }).__chart;
        const shown = Math.max(...chart.data[1]!, ...chart.data[2]!);
        return {
          scrollWidth: document.documentElement.scrollWidth,
          innerWidth,
          wrapped,
          cut,
          yMax: chart.scales.y.max,
          shown,
          axes: chart.axes.map((axis) => (axis._values ?? []).join(" ")).join(" | "),
          icon: document.querySelector<HTMLLinkElement>("link[rel=icon]")?.href,
        };
      });
      const where = `${width} px: ${JSON.stringify(layout)}`;
      assert(layout.scrollWidth <= layout.innerWidth, where);
      assertEquals(layout.wrapped, [], where);
      assertEquals(layout.cut, [], where);
      assert(layout.yMax >= layout.shown && layout.yMax <= 2.5 * layout.shown, where);
      assert(/now/.test(layout.axes) && /s ago/.test(layout.axes), where);
      assert(/MiB\/s|KiB\/s/.test(layout.axes), where);
      const iconLoads = await page.evaluate((href) =>
        new Promise<boolean>((resolve) => {
          const image = new Image();
          image.onload = () => resolve(image.naturalWidth > 0);
          image.onerror = () => resolve(false);
          image.src = href as string;
        }), "/favicon.ico");
      assert(iconLoads, "/favicon.ico is not an image the browser can show");
      assert(layout.icon?.endsWith("/favicon.svg"), where);
      assertEquals(pageErrors, []);
      await page.close();
    }
    for (const download of downloads) assertEquals((await download).code, 0);
  } finally {
    await chromium.close();
    await origin.close();
    await dashboard.stop();
  }
});

Deno.test("the file's remote and Chromium stop", async () => {
  await closeSharedChromium();
  await stopFileRemote();
});
