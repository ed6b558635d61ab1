/// <reference lib="dom" />
/**
 * The dashboard shows one state, and a true one from the first paint: stopped, listening with
 * the remote reachable, or listening while the remote is unreachable or refuses the login;
 * never a green "listening" with "Connected as" beside "Remote unreachable". Once connected,
 * the rates, chart and connections come first and the settings fold away.
 */
import type { Page } from "puppeteer-core";
import { assert, assertEquals } from "../_assert.ts";
import { freePort } from "../_harness.ts";
import { VERSION } from "../../lib/version.ts";
import { DashboardFixture, fileRemote, loginFor, stopFileRemote } from "./_dashboard.ts";
import { closeSharedChromium, sharedContext, text } from "./_chromium.ts";

/** A dashboard whose local was started listening for alice on `remote` (with `password`). */
async function startedListening(
  remote: string,
  password: string,
  extra: string[] = [],
): Promise<DashboardFixture> {
  const dashboard = await DashboardFixture.start(
    ["--listen", `127.0.0.1:${freePort()}`, "--remote", remote, "--user", "alice", ...extra],
    undefined,
    { SWIFTPROXY_PASSWORD: password },
  );
  await dashboard.program.waitFor(/proxy on/);
  // The start-up account check has answered (a problem is known) before the page is asked for.
  const deadline = Date.now() + 10_000;
  while (Date.now() < deadline) {
    const status = await (await fetch(`${dashboard.origin}/api/status`)).json();
    if (status.problem) break;
    await new Promise((r) => setTimeout(r, 100));
  }
  return dashboard;
}

/** What a reader sees of the page: its state badge, state line, problem box and body text. */
const seen = (page: Page) =>
  page.evaluate(() => {
    const visible = (id: string) => {
      const el = document.getElementById(id);
      return el && getComputedStyle(el).display !== "none" ? el.textContent!.trim() : null;
    };
    return {
      badge: visible("state"),
      line: visible("session"),
      problem: visible("problem"),
      text: document.body.innerText,
      pid: document.getElementById("pid")!.textContent,
      version: document.getElementById("version")!.textContent,
    };
  });

Deno.test("the page as served says the remote is unreachable, once, with no 'Connected' beside it", async () => {
  const dashboard = await startedListening(`127.0.0.1:${freePort()}`, "alice-secret");
  const chromium = await sharedContext();
  try {
    const pid = String(dashboard.program.child.pid);
    // The HTML itself, before any script: the true state, the process and the version.
    const html = await (await fetch(dashboard.origin + "/")).text();
    assert(html.includes(`<b id="pid">${pid}</b>`), "the page does not carry the process id");
    assert(html.includes(`<span id="version">${VERSION}</span>`), "nor the version");
    assert(/id="state" class="badge unreachable">remote unreachable</.test(html), html);
    // (The script's strings aside: they hold every state's words.)
    assert(!html.replace(/ data-i18n="[^"]*"/, "").includes("Connected as"), html);

    for (const javaScript of [false, true]) {
      const page = await chromium.newPage();
      await page.setJavaScriptEnabled(javaScript);
      await page.goto(dashboard.origin, { waitUntil: "load" });
      if (javaScript) {
        await page.waitForFunction(() => Number(document.body.dataset.updates) >= 2, {
          timeout: 20_000,
        });
      }
      const shown = await seen(page);
      const where = `JavaScript ${javaScript ? "on" : "off"}: ${JSON.stringify(shown)}`;
      assertEquals(shown.badge, "remote unreachable", where);
      assertEquals(await page.$eval("#state", (el) => el.className), "badge unreachable", where);
      assert(shown.line?.includes("nothing gets through"), where);
      assert(shown.line?.includes("Remote unreachable"), where);
      assertEquals(shown.problem, null, `the reason is said twice: ${where}`);
      assert(!/Connected as|listening on/i.test(shown.text), where);
      assertEquals(shown.pid, pid, where);
      assertEquals(shown.version, VERSION, where);
      await page.close();
    }
  } finally {
    await chromium.close();
    await dashboard.stop();
  }
});

Deno.test("a refused login while listening is one 'login refused' state from the first paint", async () => {
  const remote = await fileRemote();
  const dashboard = await startedListening(remote.address, "not-her-password", [
    "--ca",
    remote.certPath,
  ]);
  const chromium = await sharedContext();
  try {
    const page = await chromium.newPage();
    await page.setJavaScriptEnabled(false);
    await page.goto(dashboard.origin, { waitUntil: "load" });
    const shown = await seen(page);
    const where = JSON.stringify(shown);
    assertEquals(shown.badge, "login refused", where);
    assert(shown.line?.includes("Login refused"), where);
    assert(!/Connected as|listening on/i.test(shown.text), where);
  } finally {
    await chromium.close();
    await dashboard.stop();
  }
});

Deno.test("in Chromium: stopped shows the settings first; connected puts rates and connections first and folds the settings", async () => {
  const remote = await fileRemote();
  const dashboard = await DashboardFixture.start();
  const chromium = await sharedContext();
  const listenPort = freePort();
  /** Where the cards are, top to bottom, and whether the settings are open. */
  const layout = (page: Page) =>
    page.evaluate(() => {
      const top = (id: string) => document.getElementById(id)!.getBoundingClientRect().top;
      return {
        traffic: top("traffic-card"),
        connections: top("connections-card"),
        settings: top("settings-card"),
        open: (document.getElementById("settings") as HTMLDetailsElement).open,
        formShown: document.getElementById("form")!.checkVisibility(),
      };
    });
  try {
    const page = await chromium.newPage();
    await page.setViewport({ width: 1280, height: 900 });
    // Stopped, before any script runs: the true state and the settings, open, first.
    await page.setJavaScriptEnabled(false);
    await page.goto(dashboard.origin, { waitUntil: "load" });
    assertEquals(await text(page, "#state"), "stopped");
    assertEquals(await text(page, "#pid"), String(dashboard.program.child.pid));
    let where = await layout(page);
    assert(where.open && where.formShown, JSON.stringify(where));
    assert(where.settings < where.traffic, `stopped: ${JSON.stringify(where)}`);

    const connected = await dashboard.post("/api/connect", loginFor(remote, listenPort));
    assertEquals(connected.status, 200, JSON.stringify(connected.body));
    // Connected, as served: listening, rates and connections above the folded settings.
    await page.reload({ waitUntil: "load" });
    assert((await text(page, "#state")).includes(`listening on 127.0.0.1:${listenPort}`));
    where = await layout(page);
    assert(!where.open && !where.formShown, `connected, as served: ${JSON.stringify(where)}`);
    assert(where.traffic < where.settings && where.connections < where.settings, `${where}`);

    // With the script: the same, live; Disconnect brings the settings back, open and first.
    await page.setJavaScriptEnabled(true);
    await page.reload({ waitUntil: "load" });
    await page.waitForFunction(() => Number(document.body.dataset.updates) >= 1);
    where = await layout(page);
    assert(!where.open, JSON.stringify(where));
    assert(where.traffic < where.settings && where.connections < where.settings);
    assert((await text(page, "#session")).startsWith("Connected as alice to "));
    await page.click("#settings summary");
    await page.click("#disconnect");
    await page.waitForSelector("body[data-state=stopped]");
    where = await layout(page);
    assert(where.open && where.settings < where.traffic, JSON.stringify(where));
    assertEquals(await text(page, "#state"), "stopped");
  } finally {
    await chromium.close();
    await dashboard.stop();
  }
});

Deno.test("the file's remote and Chromium stop", async () => {
  await closeSharedChromium();
  await stopFileRemote();
});
