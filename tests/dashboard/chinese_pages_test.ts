/// <reference lib="dom" />
/**
 * The pages in Simplified Chinese: every string of the English catalogue has a translation,
 * a browser that asks for Chinese (`Accept-Language`) gets pages with none of the English
 * strings left, nothing wider than a 390 px phone, and the language switch is remembered
 * across a reload. The local's dashboard in Chromium, the remote's welcome page through the
 * proxy (curl, then rendered in Chromium).
 */
import { assert, assertEquals } from "../_assert.ts";
import { curl, freePort, startOrigin } from "../_harness.ts";
import { WELCOME_URL } from "../../lib/protocol/welcome_page.ts";
import en from "../../lib/common/web/i18n/en.json" with { type: "json" };
import zhCN from "../../lib/common/web/i18n/zh-CN.json" with { type: "json" };
import { DashboardFixture, fileRemote, loginFor, stopFileRemote } from "./_dashboard.ts";
import { closeSharedChromium, sharedContext } from "./_chromium.ts";
import { englishIn, overflow, readable } from "./_english.ts";

const EN: Record<string, string> = en;
const ZH: Record<string, string> = zhCN;
const CHINESE = { "accept-language": "zh-CN,zh;q=0.9,en;q=0.8" };
/** alice's limits, for the file's one remote: a quota and rates for the pages to show. */
const LIMITS = ["--quota", "2GiB", "--down", "3MiB", "--up", "1MiB", "--max-conns", "20"];

Deno.test("every English string has a Simplified Chinese translation, with the same {params}", () => {
  assertEquals(Object.keys(ZH).sort(), Object.keys(EN).sort());
  const params = (text: string) => [...text.matchAll(/\{\w+\}/g)].map((m) => m[0]).sort();
  for (const [key, text] of Object.entries(EN)) {
    assert(ZH[key] !== text, `${key} is not translated: "${text}"`);
    assertEquals(params(ZH[key]!), params(text), key);
    assertEquals(englishIn(ZH[key]!.replace(/\{\w+\}/g, "")), [], key);
  }
});

Deno.test("in Chromium asking for Chinese at 390 px: the dashboard has no English left, fits, and the switch is remembered", async () => {
  const remote = await fileRemote(LIMITS);
  const dashboard = await DashboardFixture.start();
  const origin = startOrigin();
  const chromium = await sharedContext();
  const listenPort = freePort();
  try {
    const connected = await dashboard.post("/api/connect", loginFor(remote, listenPort));
    assertEquals(connected.status, 200, JSON.stringify(connected.body));
    const download = curl(
      "-x",
      `http://127.0.0.1:${listenPort}`,
      `http://127.0.0.1:${origin.port}/bytes/12000000`,
      "-o",
      "/dev/null",
    );
    const page = await chromium.newPage();
    await page.setViewport({ width: 390, height: 800 });
    await page.setExtraHTTPHeaders(CHINESE);
    const pageErrors: string[] = [];
    page.on("pageerror", (error) => pageErrors.push(String(error)));
    await page.goto(dashboard.origin, { waitUntil: "load" });
    assertEquals(await page.$eval("html", (el) => el.lang), "zh-CN");
    // Live figures in: rates, a connection's row, the account with its quota and limits.
    await page.waitForFunction(
      () => document.getElementById("connections")!.querySelector("tr[data-id]") !== null,
      { timeout: 20_000 },
    );
    await page.waitForSelector("#account:not([hidden])");
    await page.click("#settings summary"); // the folded settings, open: their words too
    const text = await readable(page);
    assertEquals(englishIn(text), [], text);
    assert(text.includes("正在监听") && text.includes("连接设置"), text);
    const axes = await page.evaluate(() =>
      (globalThis as unknown as { __chart: { axes: { _values: string[] | null }[] } }).__chart
        .axes.map((axis) => (axis._values ?? []).join(" ")).join(" | ")
    );
    assert(axes.includes("现在") && axes.includes("秒前"), axes);
    const fit = await overflow(page);
    assert(fit.scrollWidth <= fit.innerWidth, JSON.stringify(fit));
    assertEquals((await download).code, 0);

    // The switch: English, kept across a reload although the browser still asks for Chinese.
    await Promise.all([page.waitForNavigation(), page.click("nav.langs a[hreflang=en]")]);
    await page.reload({ waitUntil: "load" });
    assertEquals(await page.$eval("html", (el) => el.lang), "en");
    assert((await readable(page)).includes("Open connections"));
    await Promise.all([page.waitForNavigation(), page.click("nav.langs a[hreflang=zh-CN]")]);
    await page.reload({ waitUntil: "load" });
    assertEquals(await page.$eval("html", (el) => el.lang), "zh-CN");
    assertEquals(pageErrors, []);
  } finally {
    await chromium.close();
    await origin.close();
    await dashboard.stop();
  }
});

Deno.test("the welcome page through the proxy: Chinese for a browser that asks, no English left, 390 px wide, the switch remembered", async () => {
  const remote = await fileRemote(LIMITS);
  const dashboard = await DashboardFixture.start();
  const chromium = await sharedContext();
  const listenPort = freePort();
  const jar = await Deno.makeTempFile({ prefix: "swiftproxy-cookies-" });
  try {
    const connected = await dashboard.post("/api/connect", loginFor(remote, listenPort));
    assertEquals(connected.status, 200, JSON.stringify(connected.body));
    const proxy = ["-x", `http://127.0.0.1:${listenPort}`, "-b", jar, "-c", jar];
    const get = async (...args: string[]) => {
      const answer = await curl(...proxy, ...args);
      assertEquals(answer.code, 0, answer.stderr);
      return new TextDecoder().decode(answer.body);
    };
    const html = await get("-H", `accept-language: ${CHINESE["accept-language"]}`, WELCOME_URL);
    assert(html.includes('<html lang="zh-CN">'), html);
    const page = await chromium.newPage();
    await page.setViewport({ width: 390, height: 800 });
    await page.setJavaScriptEnabled(false);
    await page.setContent(html, { waitUntil: "load" });
    const text = await readable(page);
    assertEquals(englishIn(text), [], text);
    assert(text.includes("alice") && text.includes("已用"), text);
    const fit = await overflow(page);
    assert(fit.scrollWidth <= fit.innerWidth, JSON.stringify(fit));

    // The switch's link sets a cookie; the next visit is English although Chinese is asked.
    const switched = await get("-i", `${WELCOME_URL}?lang=en`);
    assert(/^HTTP\/1.1 303/.test(switched) && /set-cookie: swiftproxy_lang=en/i.test(switched));
    const again = await get("-H", `accept-language: ${CHINESE["accept-language"]}`, WELCOME_URL);
    assert(again.includes('<html lang="en">') && again.includes("It works"), again);
  } finally {
    await Deno.remove(jar).catch(() => {});
    await chromium.close();
    await dashboard.stop();
  }
});

Deno.test("the file's remote and Chromium stop", async () => {
  await closeSharedChromium();
  await stopFileRemote();
});
