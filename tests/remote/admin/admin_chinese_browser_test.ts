/// <reference lib="dom" />
/**
 * The admin panel in Simplified Chinese, in Debian's headless Chromium at 390 px: a browser
 * that asks for Chinese (`Accept-Language`) gets the sign-in, the server's refusal, the users'
 * table, a user's details and charts, the editor, a toast and the audit log with none of the
 * English catalogue's strings left, nothing wider than the phone, dates and sizes the Chinese
 * way; the language switch is remembered across a reload; and English stays whole.
 */
import type { Page } from "puppeteer-core";
import { assert, assertEquals } from "../../_assert.ts";
import { launch, scrollSettled, text } from "../../dashboard/_chromium.ts";
import { englishIn, overflow, readable } from "../../dashboard/_english.ts";
import { ADMIN_PASSWORD, startAdmin } from "./_admin.ts";

const CHINESE = { "accept-language": "zh-CN,zh;q=0.9,en;q=0.8" };

/**
 * What the admin reads, without the audit log's change column: it shows the fields as stored
 * (`{"enabled":false}`), data in no page language, like the users' names.
 */
const panelText = async (page: Page) => {
  const stored = await page.$$eval(
    "#audit-rows td.change",
    (cells) => cells.map((td) => td.textContent ?? ""),
  );
  let all = await readable(page);
  for (const cell of stored) all = all.replace(cell, "");
  return all;
};

/** A catalogue key shown as is: the page asked for a string no catalogue has. */
const rawKey = (shown: string) => /\badmin\.[a-zA-Z]/.exec(shown)?.[0] ?? null;

Deno.test("in Chromium at 390 px asking for Chinese: the admin panel has no English left, fits, the switch is remembered", async () => {
  await using cleanup = new AsyncDisposableStack();
  const admin = cleanup.adopt(await startAdmin(), (a) => a.stop());
  const remote = admin.remote;
  await remote.user(
    "set",
    "alice",
    "--quota",
    "50GiB",
    "--down",
    "3MiB",
    "--max-conns",
    "20",
    "--expires",
    "2031-01-31",
    "--reset-day",
    "5",
    "--max-ips",
    "3",
  );
  await remote.user("add", "bob", "--password", "secret-pass", "--expires-after", "30d");
  await remote.user("add", "kid-1", "--password", "secret-pass", "--group", "kids");
  await remote.user("set", "kid-1", "--reset", "weekly");
  await remote.server.accounts.reload();
  const chromium = cleanup.adopt(await launch(), (c) => c.close());
  const page = await chromium.browser.newPage();
  const dialogs: string[] = [];
  page.on("dialog", (dialog) => {
    dialogs.push(dialog.message());
    dialog.accept();
  });
  const pageErrors: string[] = [];
  page.on("pageerror", (error) => pageErrors.push(String(error)));
  await page.setViewport({ width: 390, height: 800 });
  await page.setExtraHTTPHeaders(CHINESE);
  await page.goto(`${admin.origin}/`, { waitUntil: "load" });
  assertEquals(await page.$eval("html", (el) => el.lang), "zh-CN");

  // The sign-in, and the server's refusal in the page's language.
  await page.waitForSelector("body[data-view=login]");
  await page.type("#login-password", "not-the-password");
  await page.click("#login");
  await page.waitForSelector("#login-error:not([hidden])");
  assertEquals(await text(page, "#login-error"), "密码错误");
  let shown = await panelText(page);
  assertEquals(englishIn(shown), [], shown);
  assert(shown.includes("管理员密码"), shown);

  await page.$eval("#login-password", (el) => (el as HTMLInputElement).value = "");
  await page.type("#login-password", ADMIN_PASSWORD);
  await page.click("#login");
  await page.waitForSelector("tr[data-user=kid-1]");
  // A change: its toast, and its line in the audit log.
  await page.click("tr[data-user=bob] [data-do=toggle]");
  await page.waitForSelector("#toast:not([hidden])");
  assertEquals(await text(page, "#toast"), "已停用 bob");
  await page.waitForFunction(() => document.querySelector("tr[data-user=bob] .badge.disabled"));
  await page.$eval("#audit-who", (el) => {
    (el as HTMLInputElement).value = "bob";
    el.dispatchEvent(new Event("change"));
  });
  await page.waitForFunction(() =>
    [...document.querySelectorAll("#audit-rows td")].some((td) => td.textContent === "停用用户")
  );
  // One user's details with both charts drawn.
  await page.click("tr[data-user=alice] button.name");
  await page.waitForSelector("#user-chart canvas");
  await page.waitForSelector("#server-chart canvas");
  await scrollSettled(page);

  shown = await panelText(page);
  assertEquals(englishIn(shown), [], shown);
  assertEquals(rawKey(shown), null, shown);
  assert(
    shown.includes("用户") && shown.includes("审计日志") && shown.includes("每分钟上传"),
    shown,
  );
  // Dates, sizes and durations the Chinese way.
  assertEquals(await text(page, "tr[data-user=alice] .expires"), "2031年1月31日");
  assertEquals(await text(page, "tr[data-user=alice] .resets"), "每月 5 日");
  assert((await text(page, "tr[data-user=alice] .usage")).includes("共 50 GiB"), shown);
  assertEquals(await text(page, "tr[data-user=bob] .expires"), "待激活（首次登录后 30 天）");
  assertEquals(await text(page, "tr[data-user=kid-1] .resets"), "每周");
  assertEquals(await text(page, "tr[data-user=bob] .badge"), "已停用");
  let fit = await overflow(page);
  assert(fit.scrollWidth <= fit.innerWidth, JSON.stringify(fit));

  // The editor and the confirmation dialogs.
  await page.click("tr[data-user=alice] [data-do=edit]");
  await page.waitForSelector("#editor[open]");
  shown = await panelText(page);
  assertEquals(englishIn(shown), [], shown);
  assertEquals(await text(page, "#editor-title"), "编辑 alice");
  fit = await overflow(page);
  assert(fit.scrollWidth <= fit.innerWidth, JSON.stringify(fit));
  await page.click("#editor-cancel");
  await page.click("tr[data-user=bob] [data-do=reset-usage]");
  await page.waitForFunction(() => document.getElementById("toast")!.textContent!.includes("重置"));
  assertEquals(dialogs, ["将 bob 的流量清零？"]);
  assertEquals(englishIn(dialogs.join("\n")), []);

  // The switch: English, kept across a reload although the browser still asks for Chinese.
  await Promise.all([page.waitForNavigation(), page.click("nav.langs a[hreflang=en]")]);
  await page.reload({ waitUntil: "load" });
  assertEquals(await page.$eval("html", (el) => el.lang), "en");
  await page.waitForSelector("tr[data-user=alice]");
  shown = await readable(page);
  assert(shown.includes("Users") && shown.includes("Audit log"), shown);
  assertEquals(rawKey(shown), null, shown);
  assertEquals(await text(page, "tr[data-user=alice] .expires"), "Jan 31, 2031");
  assertEquals(
    await text(page, "tr[data-user=bob] .expires"),
    "on hold (30 days from first login)",
  );
  fit = await overflow(page);
  assert(fit.scrollWidth <= fit.innerWidth, JSON.stringify(fit));
  await Promise.all([page.waitForNavigation(), page.click("nav.langs a[hreflang=zh-CN]")]);
  await page.reload({ waitUntil: "load" });
  assertEquals(await page.$eval("html", (el) => el.lang), "zh-CN");
  await page.waitForSelector("tr[data-user=alice]");
  assertEquals(await text(page, "#users-card h2"), `用户 ${3}`);
  assertEquals(pageErrors, []);
});

Deno.test("the panel's page follows Accept-Language and the switch's cookie; the switch answers a 303 that sets it", async () => {
  await using cleanup = new AsyncDisposableStack();
  const admin = cleanup.adopt(await startAdmin(), (a) => a.stop());
  const get = (path: string, headers: Record<string, string>) =>
    fetch(`${admin.origin}${path}`, { headers, redirect: "manual" });
  const chinese = await get("/", CHINESE);
  assertEquals(chinese.headers.get("content-language"), "zh-CN");
  const page = await chinese.text();
  assert(page.includes('<html lang="zh-CN"') && page.includes("管理员密码"), page);
  const english = await get("/", { "accept-language": "en-GB,en;q=0.9" });
  assert((await english.text()).includes("Admin password"));
  const switched = await get("/?lang=en", CHINESE);
  await switched.body?.cancel();
  assertEquals(switched.status, 303);
  assertEquals(switched.headers.get("location"), "/");
  const cookie = switched.headers.get("set-cookie")!.split(";")[0]!;
  assertEquals(cookie, "swiftproxy_lang=en");
  const remembered = await get("/", { ...CHINESE, cookie });
  assert((await remembered.text()).includes('<html lang="en"'));
  const login = await get("/api/login", CHINESE);
  await login.body?.cancel();
  const refused = await fetch(`${admin.origin}/api/login`, {
    method: "POST",
    headers: { ...CHINESE, "content-type": "application/json", origin: admin.origin },
    body: JSON.stringify({ password: "wrong-password" }),
  });
  assertEquals([refused.status, (await refused.json()).error], [401, "密码错误"]);
});
