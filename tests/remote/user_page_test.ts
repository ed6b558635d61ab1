/// <reference lib="dom" />
/**
 * The user's page at the subscription URL, against a real remote: a browser (Accept text/html,
 * a browser's User-Agent) gets the page, an app's User-Agent its document as before. In
 * Chromium at 390 px: the usage bar, expiry and next reset, the QR code, every import button in
 * the form its app documents with the subscription URL encoded as it expects, no horizontal
 * overflow, no password in the page until the user asks to reveal the link (then the link, with
 * it), the CSP allowing the page's own style and script and nothing else; in Chinese, none of
 * the English strings left.
 */
import type { Page } from "puppeteer-core";
import { parse as parseYaml } from "yaml";
import { assert, assertEquals } from "../_assert.ts";
import { curl, RemoteFixture, runProgram, spawnLocal, startOrigin } from "../_harness.ts";
import { remoteArgs } from "../_harness.ts";
import { parseShareLink } from "../../lib/protocol/share_link.ts";
import { userPageHtml } from "../../lib/remote/share/user_page.ts";
import type { User } from "../../lib/remote/store/user_store.ts";
import { launch } from "../dashboard/_chromium.ts";
import { englishIn, overflow, readable } from "../dashboard/_english.ts";
import { fetchFrom, newLink, spkiSha256 } from "./_share.ts";

const BROWSER = {
  accept: "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8",
  "user-agent": "Mozilla/5.0 (Linux; Android 14) AppleWebKit/537.36 Chrome/126.0 Mobile Safari",
};

/** Every import button: its id and href. */
const buttons = (page: Page) =>
  page.$$eval("a.app", (links) => links.map((a) => [a.id, a.getAttribute("href") ?? ""] as const));

Deno.test("the user's page: usage, expiry, reset, QR, import buttons, reveal; apps still get their documents", async (t) => {
  const origin = startOrigin();
  const remote = await RemoteFixture.start({ alice: "alice-secret" }, ["--name", "Family VPN"]);
  const chromium = await launch([
    `--ignore-certificate-errors-spki-list=${await spkiSha256(remote.certPath)}`,
  ]);
  try {
    await remote.user("set", "alice", "--quota", "1MiB", "--expires", "2031-06-30");
    await remote.user("set", "alice", "--reset-day", "5");
    const printed = await newLink(remote, "alice");
    const { password } = parseShareLink(printed.link);
    const url = printed.subscription!;
    // Some usage to show: 300 kB through a real local.
    const local = await spawnLocal(
      ["--remote", remote.address, "--user", "alice", "--ca", remote.certPath, "--no-ui"],
      password,
    );
    try {
      const fetched = await curl(
        "-x",
        `socks5h://127.0.0.1:${local.port}`,
        `http://127.0.0.1:${origin.port}/bytes/300000`,
        "-o",
        "/dev/null",
      );
      assertEquals(fetched.code, 0, fetched.stderr);
    } finally {
      await local.program.stop();
    }
    let row = { bytesUp: 0, bytesDown: 0 };
    for (let i = 0; i < 50; i++) {
      const out = await runProgram(remoteArgs("user", "list", "--json", "--data", remote.dir));
      row = JSON.parse(out.stdout)[0];
      if (row.bytesDown >= 300000) break;
      await new Promise((r) => setTimeout(r, 200));
    }

    await t.step("a browser gets the page, without the password, with a CSP", async () => {
      const reply = await fetchFrom(remote, url, BROWSER);
      assertEquals(reply.status, 200);
      assertEquals(reply.headers.get("content-type"), "text/html; charset=utf-8");
      const csp = reply.headers.get("content-security-policy") ?? "";
      assert(/script-src 'sha256-[A-Za-z0-9+/]+=*';/.test(csp), csp);
      assert(!csp.includes("unsafe-inline") && csp.includes("default-src 'none'"), csp);
      assertEquals(reply.headers.get("referrer-policy"), "no-referrer");
      assert(reply.body.includes('<b id="user">alice</b>'));
      assert(!reply.body.includes(password), "no password in the page");
      assert(!reply.body.includes(encodeURIComponent(password)), "not even encoded");
      assert(!reply.body.includes("trojan://alice"), "no link in the page");
      // The laptop's one command: the subscription with the self-signed certificate's pin,
      // exactly as `user link` prints it for swiftproxy-local.
      const command = /<code id="local-command">([^<]*)<\/code>/.exec(reply.body)?.[1] ?? "";
      const unescaped = command.replace(/&#(\d+);/g, (_, c) => String.fromCharCode(Number(c)));
      assertEquals(unescaped, `swiftproxy-local --sub '${printed.localSubscription}'`);
      assert(printed.localSubscription!.includes("#pcs="), printed.localSubscription);
    });

    await t.step("apps keep getting their documents, by User-Agent and by path", async () => {
      const clash = await fetchFrom(remote, url, { ...BROWSER, "user-agent": "clash.meta/v1.19" });
      const proxy = (parseYaml(clash.body) as { proxies: Record<string, unknown>[] }).proxies[0]!;
      assertEquals(proxy.password, `alice:${password}`);
      const singbox = await fetchFrom(remote, url, {
        ...BROWSER,
        "user-agent": "SFA/1.11.4 (sing-box 1.11.4)",
      });
      assertEquals(JSON.parse(singbox.body).outbounds[0].password, `alice:${password}`);
      for (const agent of ["v2rayNG/1.9.5", "Shadowrocket/2070 CFNetwork", "HiddifyNext/2.5"]) {
        const plain = await fetchFrom(remote, url, { ...BROWSER, "user-agent": agent });
        assertEquals(plain.headers.get("content-type"), "text/plain; charset=utf-8", agent);
        assertEquals(parseShareLink(atob(plain.body).trim()).password, password, agent);
      }
      const byPath = await fetchFrom(remote, `${url}/clash`, BROWSER);
      assertEquals(byPath.headers.get("content-type"), "text/yaml; charset=utf-8");
      const noAccept = await fetchFrom(remote, url, { "user-agent": BROWSER["user-agent"] });
      assertEquals(noAccept.headers.get("content-type"), "text/plain; charset=utf-8");
    });

    await t.step(
      "in Chromium at 390 px: bar, expiry, reset, QR, buttons, no overflow, reveal",
      async () => {
        const page = await chromium.browser.newPage();
        const violations: string[] = [];
        page.on("console", (m) => {
          if (/Content.Security.Policy|Refused to/i.test(m.text())) violations.push(m.text());
        });
        await page.setViewport({ width: 390, height: 844 });
        await page.setExtraHTTPHeaders({ "accept-language": "en-US,en;q=0.9" });
        await page.goto(url, { waitUntil: "load" });
        assert(!(await page.content()).includes(password), "no password before the reveal");

        const bar = await page.$eval("progress", (p) => ({
          value: p.value,
          max: p.max,
          shown: getComputedStyle(p).display !== "none",
          width: p.getBoundingClientRect().width,
        }));
        assertEquals(bar.max, 2 ** 20);
        assertEquals(bar.value, Math.min(row.bytesUp + row.bytesDown, 2 ** 20));
        assert(bar.value >= 300000 && bar.shown && bar.width > 300, JSON.stringify(bar));
        const text = await page.$eval("body", (b) => b.innerText);
        assert(/Expires on Jun 30, 2031/.test(text), text);
        const now = new Date();
        const next = new Date(Date.UTC(now.getUTCFullYear(), now.getUTCMonth(), 5));
        if (next.getTime() <= now.getTime()) next.setUTCMonth(next.getUTCMonth() + 1);
        const reset = new Intl.DateTimeFormat("en", { dateStyle: "medium", timeZone: "UTC" })
          .format(next);
        assert(text.includes(`Usage goes back to zero on ${reset}`), text);
        assert(/of 1 MiB used \(\d+%\)/.test(text), text);
        assertEquals(await page.$eval("h1", (h) => h.textContent), "Family VPN");
        const qr = await page.$eval("#qr svg", (svg) => svg.getBoundingClientRect().width);
        assert(qr > 150, `QR code drawn ${qr} px wide`);

        const e = encodeURIComponent;
        const name = e("Family VPN");
        assertEquals(Object.fromEntries(await buttons(page)), {
          "app-clash": `clash://install-config?url=${e(`${url}/clash`)}&name=${name}`,
          "app-singbox": `sing-box://import-remote-profile?url=${e(`${url}/singbox`)}#${name}`,
          "app-hiddify": `hiddify://import/${url}#${name}`,
          "app-v2rayng": `v2rayng://install-sub?url=${e(url)}#${name}`,
          "app-shadowrocket": `sub://${btoa(url)}#${name}`,
          "app-stash": `stash://install-config?url=${e(`${url}/clash`)}`,
        });
        // Each app's own reading of its link gives back the subscription URL.
        for (const [id, href] of await buttons(page)) {
          const link = new URL(href);
          const got = id === "app-shadowrocket"
            ? atob(href.slice("sub://".length).split("#")[0]!)
            : id === "app-hiddify"
            ? href.slice("hiddify://import/".length).split("#")[0]!
            : link.searchParams.get("url")!;
          assertEquals(got.replace(/\/(clash|singbox)$/, ""), url, id);
        }
        assertEquals(await page.$eval("#url", (i) => (i as HTMLInputElement).value), url);
        const fit = await overflow(page);
        assert(fit.scrollWidth <= fit.innerWidth, `no horizontal scroll: ${JSON.stringify(fit)}`);

        const shown = (selector: string) =>
          page.$eval(selector, (el) => (el as HTMLElement).offsetParent !== null);
        assertEquals([await shown("#reveal"), await shown("#revealed")], [true, false]);
        await page.click("#reveal");
        await page.waitForFunction(() => !document.getElementById("revealed")!.hidden);
        assertEquals([await shown("#reveal"), await shown("#revealed")], [false, true]);
        const revealed = await page.$eval("#share-link", (i) => (i as HTMLInputElement).value);
        assertEquals(parseShareLink(revealed), parseShareLink(printed.link));
        assertEquals(parseShareLink(revealed).password, password);
        const after = await overflow(page);
        assert(after.scrollWidth <= after.innerWidth, `still fits: ${JSON.stringify(after)}`);
        assertEquals(violations, [], "the CSP let the page's own style and script run");
        await page.close();
      },
    );

    await t.step("in Chinese at 390 px: no English catalogue string, no overflow", async () => {
      const page = await chromium.browser.newPage();
      await page.setViewport({ width: 390, height: 844 });
      await page.setExtraHTTPHeaders({ "accept-language": "zh-CN,zh;q=0.9,en;q=0.8" });
      await page.goto(url, { waitUntil: "load" });
      assertEquals(await page.$eval("html", (h) => h.lang), "zh-CN");
      const text = await readable(page);
      assertEquals(englishIn(text), [], text);
      assert(text.includes("到期时间"), text);
      const fit = await overflow(page);
      assert(fit.scrollWidth <= fit.innerWidth, `no horizontal scroll: ${JSON.stringify(fit)}`);
      // The switch: English, remembered by a cookie while the browser still asks for Chinese.
      await page.click('nav a[hreflang="en"]');
      await page.waitForFunction(() => document.documentElement.lang === "en");
      assertEquals(new URL(page.url()).pathname, new URL(url).pathname);
      await page.reload({ waitUntil: "load" });
      assertEquals(await page.$eval("html", (h) => h.lang), "en");
      await page.close();
    });
  } finally {
    await chromium.close();
    await remote.stop();
    await origin.close();
  }
});

Deno.test("the page's states: on hold, expired, unlimited, no reset; a header no Headers takes is no failure", async () => {
  const base: User = {
    id: 1,
    name: "bob",
    key: "k",
    upLimit: 0,
    downLimit: 0,
    quota: 0,
    maxConns: 0,
    enabled: true,
    expiresAt: null,
    bytesUp: 1024,
    bytesDown: 2048,
    openConns: 0,
    createdAt: 0,
    updatedAt: 0,
  };
  const url = "https://vpn.example.org/sub/T";
  const page = (user: User) => userPageHtml({ user, url, title: "vpn", now: Date.UTC(2030, 0, 1) });
  const unlimited = page(base);
  assert(unlimited.includes('data-quota="0"') && unlimited.includes("3 KiB used; no quota"));
  assert(unlimited.includes("Never expires") && unlimited.includes("No monthly reset"));
  const held = page({ ...base, enabled: false, expiresAt: Date.UTC(2031, 0, 1) });
  assert(held.includes('data-state="hold"') && held.includes("On hold"), "disabled: on hold");
  const expired = page({ ...base, expiresAt: Date.UTC(2029, 11, 31) });
  assert(expired.includes('data-state="expired"') && expired.includes("Expired on Dec 31, 2029"));
  const over = page({ ...base, quota: 2048, resetDay: 5 });
  assert(over.includes('value="2048" max="2048"') && over.includes("(100%)"), "the bar stops full");
  assert(over.includes("Usage goes back to zero on Jan 5, 2030"));

  // A request header with a character Headers refuses does not lose the answer.
  const remote = await RemoteFixture.start();
  try {
    const url = (await newLink(remote, "alice")).subscription!;
    const out = await curl(
      "--cacert",
      remote.certPath,
      "-H",
      "Accept: text/html",
      "-H",
      "X-Name: \u5bb6",
      "-A",
      "Mozilla/5.0",
      url,
    );
    assertEquals(out.code, 0, out.stderr);
    assert(new TextDecoder().decode(out.body).includes('<b id="user">alice</b>'));
  } finally {
    await remote.stop();
  }
});
