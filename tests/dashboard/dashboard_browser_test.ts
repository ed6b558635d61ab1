/// <reference lib="dom" />
/**
 * The dashboard in a real browser: Debian's headless Chromium, driven by puppeteer-core over
 * the DevTools protocol (no browser download), does what a user does on the page. Its layout
 * at two widths: `layout_browser_test.ts` (apart, so neither file takes 30 s alone).
 */
import type { Page } from "puppeteer-core";
import { assert, assertEquals } from "../_assert.ts";
import { curl, freePort, ROOT, startOrigin } from "../_harness.ts";
import { accepts, aliceForm, DashboardFixture, fileRemote, stopFileRemote } from "./_dashboard.ts";
import { closeSharedChromium, sharedContext, text } from "./_chromium.ts";

/** alice's limits: a steady download, so the rate and chart have a shape. */
const LIMITS = ["--quota", "2GiB", "--up", "1MiB", "--down", "3MiB"];

async function fill(page: Page, fields: Record<string, string>): Promise<void> {
  for (const [id, value] of Object.entries(fields)) {
    await page.$eval(`#${id}`, (el, v) => (el as HTMLInputElement).value = v as string, value);
  }
}

Deno.test("in Chromium: Connect shows the account, a download shows its rate and row, Disconnect stops", async () => {
  const remote = await fileRemote(LIMITS);
  const dashboard = await DashboardFixture.start();
  const origin = startOrigin();
  const chromium = await sharedContext();
  const listenPort = freePort();
  try {
    const page = await chromium.newPage();
    await page.setViewport({ width: 1200, height: 1000 });
    const pageErrors: string[] = [];
    page.on("pageerror", (error) => pageErrors.push(String(error)));
    await page.goto(dashboard.origin, { waitUntil: "load" });
    await page.waitForSelector("body[data-state=stopped]");
    assertEquals(await text(page, "#pid"), String(dashboard.program.child.pid));

    await fill(page, {
      listen: `127.0.0.1:${listenPort}`,
      remote: remote.address,
      ca: remote.certPath,
      user: "alice",
      password: "alice-secret",
    });
    await page.click("#connect");
    await page.waitForSelector("#account:not([hidden])", { timeout: 20_000 });
    assertEquals(await text(page, "#acc-user"), "alice");
    assertEquals(await text(page, "#acc-up"), "1.00 MiB/s");
    assertEquals(await text(page, "#acc-down"), "3.00 MiB/s");
    assert(
      (await text(page, "#acc-quota")).includes("of 2.00 GiB"),
      await text(page, "#acc-quota"),
    );
    assertEquals(await text(page, "#acc-expires"), "never");
    const state = await text(page, "#state");
    assert(state.includes(`listening on 127.0.0.1:${listenPort}`), state);
    assert(await accepts(listenPort));

    // A download through the HTTP proxy: the rate rises and the connection is listed.
    const download = curl(
      "-x",
      `http://127.0.0.1:${listenPort}`,
      `http://127.0.0.1:${origin.port}/bytes/24000000`,
      "-o",
      "/dev/null",
    );
    await page.waitForFunction(
      () => document.getElementById("rate-down")!.textContent !== "0 B/s",
      { timeout: 20_000 },
    );
    await page.waitForFunction(
      (dest) => document.getElementById("connections")!.innerText.includes(dest as string),
      { timeout: 20_000 },
      `127.0.0.1:${origin.port}`,
    );
    const row = await text(page, "#connections tr");
    assert(row.includes("HTTP"), row);
    assertEquals(await text(page, "#conn-count"), "1");
    // A few seconds of steady transfer, so the chart has a shape in the screenshot.
    const seen = await page.evaluate(() => Number(document.body.dataset.updates));
    await page.waitForFunction((n) => Number(document.body.dataset.updates) > (n as number) + 5, {
      timeout: 20_000,
    }, seen);
    await Deno.mkdir(`${ROOT}tests/artifacts`, { recursive: true });
    await page.screenshot({ path: `${ROOT}tests/artifacts/dashboard.png`, fullPage: true });
    assertEquals((await download).code, 0);

    await page.click("#disconnect");
    await page.waitForSelector("body[data-state=stopped]");
    assertEquals(await text(page, "#state"), "stopped");
    assert(
      !(await accepts(listenPort)),
      "the proxy port still accepts connections after Disconnect",
    );
    assertEquals(pageErrors, []);
  } finally {
    await chromium.close();
    await origin.close();
    await dashboard.stop();
  }
});

Deno.test("in Chromium: a wrong password and an unreachable remote are explained on the page", async () => {
  const remote = await fileRemote(LIMITS);
  const dashboard = await DashboardFixture.start();
  const chromium = await sharedContext();
  try {
    const page = await chromium.newPage();
    await page.goto(dashboard.origin, { waitUntil: "load" });
    await page.waitForSelector("body[data-state=stopped]");
    await fill(page, {
      listen: `127.0.0.1:${freePort()}`,
      remote: remote.address,
      ca: remote.certPath,
      user: "alice",
      password: "not-her-password",
    });
    await page.click("#connect");
    // Bounded by the condition: a loaded machine (a full suite on 2 cores) took over 20 s once.
    await page.waitForSelector("#problem:not([hidden])", { timeout: 45_000 });
    assert(
      (await text(page, "#problem")).startsWith("Login refused"),
      await text(page, "#problem"),
    );
    const shown = (selector: string) =>
      page.$eval(selector, (el) => getComputedStyle(el).display !== "none");
    assertEquals(await shown("#account"), false, "the account details are hidden");
    assertEquals(await shown("#account-empty"), true);
    await Deno.mkdir(`${ROOT}tests/artifacts`, { recursive: true });
    await page.screenshot({ path: `${ROOT}tests/artifacts/dashboard-login-refused.png` });

    await fill(page, { remote: `127.0.0.1:${freePort()}`, password: "alice-secret" });
    await page.click("#connect");
    await page.waitForFunction(
      () => document.getElementById("problem")!.textContent!.startsWith("Remote unreachable"),
      { timeout: 45_000 },
    );
    assertEquals(await text(page, "#state"), "stopped");
  } finally {
    await chromium.close();
    await dashboard.stop();
  }
});

Deno.test("1,000 open connections: 200 rows sent, the count shown, updates stay quick", async () => {
  const remote = await fileRemote(LIMITS);
  const dashboard = await DashboardFixture.start(["--handshake-timeout", "60"]);
  const chromium = await sharedContext();
  const listenPort = freePort();
  const clients: Deno.TcpConn[] = [];
  try {
    const connected = await dashboard.post("/api/connect", {
      listen: `127.0.0.1:${listenPort}`,
      remote: remote.address,
      ca: remote.certPath,
      user: "alice",
      password: "alice-secret",
    });
    assertEquals(connected.status, 200, JSON.stringify(connected.body));
    // SOCKS5 clients that stop after the version byte: open and listed, no tunnel yet.
    for (let i = 0; i < 1000; i++) {
      const conn = await Deno.connect({ hostname: "127.0.0.1", port: listenPort });
      await conn.write(Uint8Array.of(5));
      clients.push(conn);
    }
    const socket = dashboard.socket();
    const full = await socket.next((s) => s.open === 1000);
    assertEquals(full.connections.length, 200);
    const size = socket.messages.at(-1)!.size;
    assert(size < 60_000, `a status message with 1,000 connections is ${size} bytes`);

    const page = await chromium.newPage();
    await page.goto(dashboard.origin, { waitUntil: "load" });
    await page.waitForFunction(() => document.getElementById("conn-count")!.textContent === "1000");
    await page.waitForFunction(() => Number(document.body.dataset.updates) >= 4, {
      timeout: 20_000,
    });
    assertEquals(await page.$$eval("#connections tr", (rows) => rows.length), 200);
    assert((await text(page, "#conn-note")).includes("200 most active"));
    const renderMs = await page.evaluate(() =>
      (window as unknown as { __renderMs: number }).__renderMs
    );
    assert(renderMs < 100, `rendering one update took ${renderMs} ms`);
    console.log(`1,000 connections: message ${size} bytes, render ${renderMs.toFixed(1)} ms`);
    await socket.close();
  } finally {
    for (const conn of clients) conn.close();
    await chromium.close();
    await dashboard.stop();
  }
});

/** Sets fields the way typing does: the value, then an `input` event. */
async function type(page: Page, fields: Record<string, string>): Promise<void> {
  for (const [id, value] of Object.entries(fields)) {
    await page.$eval(`#${id}`, (el, v) => {
      (el as HTMLInputElement).value = v as string;
      el.dispatchEvent(new Event("input", { bubbles: true }));
    }, value);
  }
}

/** The buttons shown and which of them is the primary one. */
const buttons = (page: Page) =>
  page.$$eval(
    ".buttons button",
    (list) =>
      list.filter((b) => getComputedStyle(b).display !== "none").map((b) =>
        `${b.textContent}${b.classList.contains("primary") ? " (primary)" : ""}${
          (b as HTMLButtonElement).disabled ? " (disabled)" : ""
        }`
      ),
  );

Deno.test("in Chromium: one primary action per state; a wrong password while connected says the session goes on", async () => {
  const remote = await fileRemote(LIMITS);
  const dashboard = await DashboardFixture.start();
  const chromium = await sharedContext();
  const listenPort = freePort();
  try {
    const page = await chromium.newPage();
    await page.setViewport({ width: 1280, height: 900 });
    await page.goto(dashboard.origin, { waitUntil: "load" });
    await page.waitForSelector("body[data-state=stopped]");
    assertEquals(await buttons(page), ["Connect (primary)"]);

    await type(page, aliceForm(remote, listenPort));
    await page.click("#connect");
    await page.waitForSelector("body[data-state=listening]", { timeout: 20_000 });
    assertEquals(await buttons(page), ["Apply changes (disabled)", "Disconnect (primary)"]);
    assert((await text(page, "#session")).startsWith("Connected as alice to "));

    await type(page, { password: "not-her-password" });
    assertEquals(await buttons(page), ["Apply changes", "Disconnect (primary)"]);
    await page.click("#connect");
    // Bounded by the condition: a loaded machine (a full suite on 2 cores) took over 20 s once.
    await page.waitForSelector("#problem:not([hidden])", { timeout: 45_000 });
    const problem = await text(page, "#problem");
    assert(problem.startsWith("Login refused"), problem);
    assert(
      problem.endsWith(
        `Still connected as alice to ${remote.address} with the previous settings.`,
      ),
      problem,
    );
    // Seen once in four full runs on a loaded machine: the port refused one connection right
    // after the refusal showed (cause not found; alone it always accepts). A stopped session
    // stays refused, so a second try a moment later still catches that.
    const stillOpen = await accepts(listenPort) ||
      await new Promise((r) => setTimeout(r, 500)).then(() => accepts(listenPort));
    assert(stillOpen, "the running session was stopped");
    assert((await text(page, "#state")).includes(`listening on 127.0.0.1:${listenPort}`));
    assert((await text(page, "#session")).startsWith(`Connected as alice to ${remote.address}`));
    const screens = await Deno.makeTempDir({ prefix: "swiftproxy-screens-" });
    await page.screenshot({ path: `${screens}/login-refused-while-connected.png` });
    console.log(`screenshot: ${screens}/login-refused-while-connected.png`);

    await page.click("#disconnect");
    await page.waitForSelector("body[data-state=stopped]");
    assertEquals(await buttons(page), ["Connect (primary)"]);
  } finally {
    await chromium.close();
    await dashboard.stop();
  }
});

Deno.test("in Chromium: what is typed before the saved settings arrive is kept; the rest is filled", async () => {
  const dashboard = await DashboardFixture.start();
  const chromium = await sharedContext();
  try {
    const page = await chromium.newPage();
    // The page's /api/settings is held until the user has typed, as on a slow link or machine.
    await page.setRequestInterception(true);
    let releaseSettings = () => {};
    const settingsAsked = new Promise<void>((asked) => {
      page.on("request", (request) => {
        if (!request.url().endsWith("/api/settings")) return void request.continue();
        releaseSettings = () => void request.continue();
        asked();
      });
    });
    await page.goto(dashboard.origin, { waitUntil: "load" });
    await settingsAsked;
    await page.type("#remote", "vpn.example.org:8443");
    await page.type("#user", "carol");
    const answered = page.waitForResponse((r) => r.url().endsWith("/api/settings"));
    releaseSettings();
    await answered;
    // The answer is read after the response event: wait until the untouched field is filled.
    await page.waitForFunction(() =>
      (document.getElementById("listen") as HTMLInputElement).value !== ""
    );
    const value = (id: string) => page.$eval(`#${id}`, (el) => (el as HTMLInputElement).value);
    assertEquals(
      await value("listen"),
      "127.0.0.1:1080",
      "an untouched field takes the saved value",
    );
    assertEquals(await value("remote"), "vpn.example.org:8443");
    assertEquals(await value("user"), "carol");
  } finally {
    await chromium.close();
    await dashboard.stop();
  }
});

Deno.test("the file's remote and Chromium stop", async () => {
  await closeSharedChromium();
  await stopFileRemote();
});
