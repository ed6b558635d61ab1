/// <reference lib="dom" />
/**
 * The panel's group filter and bulk changes in Debian's headless Chromium: the admin shows one
 * group, ticks every user shown, disables them together and sets a limit on them together;
 * the users outside the group are untouched. An account on hold shows so.
 */
import { assert, assertEquals } from "../../_assert.ts";
import { launch, text } from "../../dashboard/_chromium.ts";
import { ADMIN_PASSWORD, startAdmin } from "./_admin.ts";

Deno.test("in Chromium: filter by group, select several, disable and set them together", async () => {
  await using cleanup = new AsyncDisposableStack();
  const admin = cleanup.adopt(await startAdmin(), (a) => a.stop());
  const remote = admin.remote;
  for (const name of ["kid-1", "kid-2", "kid-3"]) {
    await remote.user("add", name, "--password", "secret-pass", "--group", "kids");
  }
  await remote.user("add", "grandpa", "--password", "secret-pass", "--expires-after", "30d");
  await remote.server.accounts.reload();
  const chromium = cleanup.adopt(await launch(), (c) => c.close());
  const page = await chromium.browser.newPage();
  page.on("dialog", (dialog) => dialog.accept());
  const errors: string[] = [];
  page.on("pageerror", (error) => errors.push(String(error)));
  await page.setViewport({ width: 1280, height: 900 });
  await page.goto(`${admin.origin}/`, { waitUntil: "load" });
  await page.waitForSelector("body[data-view=login]");
  await page.type("#login-password", ADMIN_PASSWORD);
  await page.click("#login");
  await page.waitForSelector("tr[data-user=grandpa]");
  assert(
    (await text(page, "tr[data-user=grandpa] .expires")).startsWith("on hold (30 days"),
    await text(page, "tr[data-user=grandpa] .expires"),
  );

  // Only the kids, all ticked, disabled together.
  await page.waitForSelector("#group-filter option[value=kids]");
  await page.select("#group-filter", "kids");
  const shown = await page.$$eval(
    "#user-rows tr:not([hidden])",
    (rows) => rows.map((r) => (r as HTMLElement).dataset.user),
  );
  assertEquals(shown, ["kid-1", "kid-2", "kid-3"]);
  await page.click("#pick-all");
  await page.waitForSelector("#bulk:not([hidden])");
  assertEquals(await text(page, "#bulk-count"), "3");
  await page.click("#bulk-disable");
  await page.waitForFunction(
    () =>
      ["kid-1", "kid-2", "kid-3"].every((n) =>
        document.querySelector(`tr[data-user="${n}"] .badge`)?.textContent === "disabled"
      ),
    { timeout: 5000 },
  );
  for (const name of ["kid-1", "kid-2", "kid-3"]) {
    assertEquals((await remote.store.get(name))!.enabled, false, name);
  }
  assertEquals((await remote.store.get("grandpa"))!.enabled, true, "outside the group");

  // A limit for the ticked ones, the rest of their settings kept.
  await page.click("#bulk-set");
  await page.waitForSelector("#editor[open]");
  await page.type("#f-max-ips", "2");
  await page.type("#f-down", "1MiB");
  await page.click("#editor-save");
  await page.waitForFunction(() => !document.querySelector("#editor[open]"), { timeout: 5000 });
  for (const name of ["kid-1", "kid-2", "kid-3"]) {
    const kid = (await remote.store.get(name))!;
    assertEquals([kid.maxIps, kid.downLimit, kid.group, kid.enabled], [
      2,
      1024 * 1024,
      "kids",
      false,
    ]);
  }
  const grandpa = (await remote.store.get("grandpa"))!;
  assertEquals([grandpa.maxIps, grandpa.downLimit, grandpa.expiresAfter], [
    undefined,
    0,
    30 * 86_400_000,
  ]);
  assertEquals(errors, []);
});
