/// <reference lib="dom" />
/**
 * The admin panel in a real browser against real processes: `serve --admin` and `admin
 * passwd` spawned, a local carrying a download, Debian's headless Chromium driven by
 * puppeteer-core doing what the admin does: sign in, add a user, slow a running download
 * down, disconnect it, see the chart; screenshots at 1280 and 390 px.
 */
import puppeteer from "puppeteer-core";
import type { Page } from "puppeteer-core";
import { assert, assertEquals } from "../../_assert.ts";
import {
  chainTo,
  delay,
  freePort,
  remoteArgs,
  RemoteFixture,
  ROOT,
  runProgram,
  startOrigin,
} from "../../_harness.ts";

import { scrollSettled } from "../../dashboard/_chromium.ts";
import { parseShareLink } from "../../../lib/protocol/share_link.ts";
import { svgQr } from "../../../lib/remote/share/share.ts";
import { fetchFrom } from "../_share.ts";

const MiB = 1024 * 1024;

/** A download through the local's HTTP proxy that records when its bytes arrive. */
function download(proxyPort: number, url: string) {
  const arrivals: { at: number; bytes: number }[] = [];
  let total = 0;
  const done = (async () => {
    const conn = await Deno.connect({ hostname: "127.0.0.1", port: proxyPort });
    await conn.write(new TextEncoder().encode(`GET ${url} HTTP/1.1\r\nHost: x\r\n\r\n`));
    const buffer = new Uint8Array(256 * 1024);
    try {
      for (;;) {
        const n = await conn.read(buffer);
        if (n === null) break;
        total += n;
        arrivals.push({ at: performance.now(), bytes: n });
      }
    } catch {
      // reset by the disconnect
    } finally {
      try {
        conn.close();
      } catch {
        // closed already
      }
    }
  })();
  return {
    done,
    get total() {
      return total;
    },
    /** Bytes per second that arrived between `from` and `to` (performance.now times). */
    rate(from: number, to: number): number {
      const bytes = arrivals.filter((a) => a.at >= from && a.at < to).reduce(
        (s, a) => s + a.bytes,
        0,
      );
      return bytes / ((to - from) / 1000);
    },
  };
}

const text = (page: Page, selector: string) =>
  page.$eval(selector, (el) => (el as HTMLElement).textContent ?? "");

Deno.test("in Chromium: sign in, add a user, slow a running download within 1 s, disconnect it, see the chart", async () => {
  const adminPort = freePort();
  const remote = await RemoteFixture.start({ alice: "alice-secret" }, [
    "--admin",
    `127.0.0.1:${adminPort}`,
  ]);
  await remote.program.waitFor(/admin panel on http:\/\/127\.0\.0\.1:\d+\//);
  await remote.program.waitFor(/no admin account yet/, 5_000);
  const passwd = await runProgram(remoteArgs("admin", "passwd", "--data", remote.dir));
  assertEquals(passwd.code, 0, passwd.stderr);
  const password = /admin password \(shown once\): (\S+)/.exec(passwd.stdout)![1]!;
  await remote.user("set", "alice", "--down", "4MiB");
  const chain = await chainTo(remote);
  const origin = startOrigin();
  const profile = await Deno.makeTempDir({ prefix: "swiftproxy-chromium-" });
  const browser = await puppeteer.launch({
    executablePath: "/usr/bin/chromium",
    headless: true,
    args: [
      "--headless",
      "--no-sandbox",
      "--disable-gpu",
      "--no-first-run",
      `--user-data-dir=${profile}`,
    ],
  });
  const transfer = download(chain.local.port, `http://127.0.0.1:${origin.port}/bytes/400000000`);
  try {
    const page = await browser.newPage();
    page.on("dialog", (dialog) => dialog.accept());
    const pageErrors: string[] = [];
    page.on("pageerror", (error) => pageErrors.push(String(error)));
    await page.setViewport({ width: 1280, height: 900 });
    const panel = `http://127.0.0.1:${adminPort}/`;
    await page.goto(panel, { waitUntil: "load" });
    await page.waitForSelector("body[data-view=login]");
    await page.type("#login-password", "not-the-password");
    await page.click("#login");
    await page.waitForSelector("#login-error:not([hidden])");
    assertEquals(await text(page, "#login-error"), "wrong password");
    await page.$eval("#login-password", (el) => (el as HTMLInputElement).value = "");
    await page.type("#login-password", password);
    await page.click("#login");
    await page.waitForSelector("tr[data-user=alice]");

    // Add bob; the generated password is shown once.
    await page.click("#add-user");
    await page.type("#f-name", "bob");
    // A refused value is named by its label, as the form shows it, not by the API's field.
    await page.type("#f-down", "fast");
    await page.click("#editor-save");
    await page.waitForSelector("#editor-error:not([hidden])");
    const refusal = await text(page, "#editor-error");
    assert(refusal.startsWith("Download limit: "), refusal);
    assert(!refusal.includes("downLimit"), refusal);
    await page.$eval("#f-down", (el) => (el as HTMLInputElement).value = "");
    await page.type("#f-down", "1MiB");
    await page.type("#f-quota", "20GiB");
    await page.select("#f-reset", "5");
    await page.click("#editor-save");
    await page.waitForSelector("#secret[open]");
    const value = (id: string) =>
      page.$eval(id, (el) => (el as HTMLInputElement | HTMLTextAreaElement).value);
    const bobPassword = await value("#secret-password");
    assert(bobPassword.length >= 20, `bob's password: ${bobPassword}`);
    // With it, as the CLI prints them: the link, its QR code and the subscription URL.
    const addedLink = await value("#secret-link");
    const added = parseShareLink(addedLink);
    assertEquals([added.user, added.password, added.host, added.port], [
      "bob",
      bobPassword,
      "127.0.0.1",
      remote.port,
    ]);
    assertEquals(added.pin?.length, 64);
    const qrSrc = await page.$eval("#secret-qr", (el) => (el as HTMLImageElement).src);
    assertEquals(
      atob(qrSrc.replace(/^data:image\/svg\+xml;base64,/, "")),
      svgQr(await value("#secret-link")),
      "the QR code is the link's",
    );
    await page.waitForFunction(
      () => (document.getElementById("secret-qr") as HTMLImageElement).naturalWidth > 0,
    );
    const subscription = await value("#secret-sub");
    const served = await fetchFrom(remote, subscription);
    assertEquals(parseShareLink(atob(served.body).trim()), added, "the subscription serves it");
    // The link field shows the whole link: no scrolling inside it.
    assert(
      await page.$eval("#secret-link", (el) => el.scrollHeight <= el.clientHeight + 1),
      "the link is cut off",
    );
    assertEquals(await page.$$eval("#secret button.copy", (b) => b.length), 3, "copy buttons");
    await page.click("#secret-close");
    await page.waitForSelector("tr[data-user=bob]");
    assertEquals(await text(page, "tr[data-user=bob] .resets"), "day 5", "the reset day is shown");
    const bobRow =
      (await runProgram(remoteArgs("user", "list", "--json", "--data", remote.dir))).stdout;
    assert(bobRow.includes('"name": "bob"'), "the CLI sees the user the panel added");

    // Bob's card shows the link he was given, kept by the server: no new password needed.
    await page.click("tr[data-user=bob] .name");
    await page.waitForSelector("#share-result:not([hidden])");
    await page.waitForFunction(
      (link) => (document.getElementById("share-link") as HTMLTextAreaElement).value === link,
      { timeout: 5000 },
      addedLink,
    );
    // His link and QR code, for his phone: a new password, a pinned trojan:// link.
    await page.waitForSelector("#share-issue");
    await scrollSettled(page);
    await page.type("#share-host", "127.0.0.1");
    await page.click("#share-issue");
    await page.waitForFunction(
      (old) => (document.getElementById("share-password") as HTMLInputElement).value !== old,
      {},
      bobPassword,
    );
    await page.waitForFunction(
      () => (document.getElementById("share-qr") as HTMLImageElement).naturalWidth > 0,
      { timeout: 5000 },
    );
    const bobLink = await page.$eval("#share-link", (el) => (el as HTMLInputElement).value);
    assert(/^trojan:\/\/bob%3A.+@127\.0\.0\.1:\d+\?.*pcs=[0-9a-f]{64}/.test(bobLink), bobLink);
    assert(!bobLink.includes("allowInsecure=1"), bobLink);
    const qr = await page.$eval("#share-qr", (el) => (el as HTMLImageElement).naturalWidth);
    assert(qr >= 100, `the QR code is ${qr} px wide`);
    await Deno.mkdir(`${ROOT}tests/artifacts`, { recursive: true });
    await (await page.$("#detail"))!.screenshot({ path: `${ROOT}tests/artifacts/admin-share.png` });

    // The download runs at alice's 4 MiB/s; the panel shows it, then slows it to 256 KiB/s.
    await page.waitForFunction(
      () => /MiB\/s/.test(document.querySelector("tr[data-user=alice] .rates .down")!.textContent!),
      { timeout: 15_000 },
    );
    const before = transfer.rate(performance.now() - 1000, performance.now());
    await page.click("tr[data-user=alice] [data-do=edit]");
    await page.waitForSelector("#editor[open]");
    await page.$eval("#f-down", (el) => (el as HTMLInputElement).value = "");
    await page.type("#f-down", "256KiB");
    await page.click("#editor-save");
    await page.waitForFunction(() => !document.getElementById("editor")!.hasAttribute("open"));
    const saved = performance.now();
    await delay(2100);
    const after = transfer.rate(saved + 1000, saved + 2000);
    console.log(
      `alice's download: ${(before / MiB).toFixed(2)} MiB/s before, ${
        (after / 1024).toFixed(0)
      } KiB/s 1-2 s after the change`,
    );
    assert(before > 2 * MiB, `before the change: ${before} B/s`);
    assert(after < 1.5 * 256 * 1024, `1 to 2 s after the change: ${after} B/s`);
    await page.waitForFunction(
      () => /KiB\/s/.test(document.querySelector("tr[data-user=alice] .rates .down")!.textContent!),
      { timeout: 5000 },
    );

    // Alice's details: her connection, then the chart, then disconnect it.
    await page.click("tr[data-user=alice] .name");
    await page.waitForSelector("#connections li");
    await scrollSettled(page);
    assert((await text(page, "#connections li")).includes(`127.0.0.1:${origin.port}`));
    assert((await text(page, "tr[data-user=alice] .sources")).includes("127.0.0.1"));
    const deadline = Date.now() + 20_000;
    while (Date.now() < deadline) {
      const points = await page.evaluate(() => Number(document.body.dataset.serverPoints ?? 0));
      if (points > 0) break;
      await delay(1000);
      await page.click("[data-chart=server] [data-range='24h']");
    }
    await page.click("[data-chart=user] [data-range='24h']");
    await page.waitForFunction(() => Number(document.body.dataset.userPoints ?? 0) > 0, {
      timeout: 10_000,
    });
    // Once more, so the server chart holds the download too, not only the first seconds.
    await page.click("[data-chart=server] [data-range='24h']");
    await delay(500);
    assert(await page.$("#server-chart canvas"), "the server chart is drawn");
    assert(await page.$("#user-chart canvas"), "alice's chart is drawn");
    await Deno.mkdir(`${ROOT}tests/artifacts`, { recursive: true });
    const wide = `${ROOT}tests/artifacts/admin-1280.png`;
    await page.screenshot({ path: wide, fullPage: true });

    const kicked = performance.now();
    await page.click("#connections li button");
    await transfer.done;
    const ms = performance.now() - kicked;
    assert(ms < 2000, `the download ended ${ms} ms after Disconnect`);
    await page.waitForSelector("#conn-empty:not([hidden])");

    await page.setViewport({ width: 390, height: 844 });
    await delay(400);
    const narrow = `${ROOT}tests/artifacts/admin-390.png`;
    await page.screenshot({ path: narrow, fullPage: true });
    console.log(`screenshots: ${wide} ${narrow}`);
    const widest = await page.evaluate(() => document.documentElement.scrollWidth);
    assert(widest <= 390, `the page is ${widest} px wide at 390 px`);
    assertEquals(pageErrors, []);

    const cookies = await browser.cookies();
    const session = cookies.find((c) => c.name === "swiftproxy_admin")!;
    assert(session.httpOnly && session.sameSite === "Strict", JSON.stringify(session));
    const log = remote.program.output;
    for (const secret of [password, bobPassword, session.value]) {
      assert(!log.includes(secret), "a password or session id is in the log");
    }
  } finally {
    await browser.close();
    await Deno.remove(profile, { recursive: true }).catch(() => {});
    // The chain first: a test failing before the disconnect does not wait out the download.
    await chain.stop();
    await transfer.done.catch(() => {});
    await origin.close();
  }
});

Deno.test("admin passwd: --password, $SWIFTPROXY_PASSWORD or stdin; too short is refused", async () => {
  const dir = await Deno.makeTempDir({ prefix: "swiftproxy-admin-" });
  try {
    const short = await runProgram(
      remoteArgs("admin", "passwd", "--data", dir, "--password", "short"),
    );
    assertEquals(short.code, 2);
    assert(/at least 8 characters/.test(short.stderr), short.stderr);
    const given = await runProgram(remoteArgs("admin", "passwd", "--data", dir), {
      env: { SWIFTPROXY_PASSWORD: "from-the-environment" },
    });
    assertEquals(given.code, 0, given.stderr);
    assert(!given.stdout.includes("from-the-environment"), "a given password is not printed");
    const piped = new Deno.Command(Deno.execPath(), {
      args: remoteArgs("admin", "passwd", "--data", dir),
      cwd: ROOT,
      stdin: "piped",
      stdout: "piped",
      stderr: "piped",
    }).spawn();
    const writer = piped.stdin.getWriter();
    await writer.write(new TextEncoder().encode("from-standard-input\n"));
    await writer.close();
    const out = await piped.output();
    assertEquals(out.code, 0, new TextDecoder().decode(out.stderr));
    assert(
      !new TextDecoder().decode(out.stdout).includes("shown once"),
      "stdin's password is used",
    );
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
