/// <reference lib="dom" />
/**
 * The dashboard's link field: a pasted `trojan://` link fills remote, name, password and the
 * pinned certificate (`POST /api/link`, the parser `--link` uses), Connect then checks the pin;
 * a wrong pin and a link that turns checks off are refused in words. In Chromium, pasting the
 * link and pressing "Use link" then Connect is all a user with only a link has to do.
 */
import { assert, assertEquals } from "../_assert.ts";
import { curl, freePort, randomBytes, RemoteFixture, startOrigin } from "../_harness.ts";
import { newLink } from "../remote/_share.ts";
import { DashboardFixture } from "./_dashboard.ts";
import { launch, text } from "./_chromium.ts";

Deno.test("a pasted link fills the form, and Connect checks its pin", async () => {
  const remote = await RemoteFixture.start();
  const origin = startOrigin();
  const dashboard = await DashboardFixture.start();
  try {
    const { link } = await newLink(remote, "alice");
    const filled = await dashboard.post("/api/link", { link });
    assertEquals(filled.status, 200);
    const { remote: address, user, password, pin, serverName } = filled.body;
    assertEquals([address, user, serverName, pin.length], [remote.address, "alice", "", 64]);

    const listen = `127.0.0.1:${freePort()}`;
    const form = { listen, remote: address, ca: "", serverName, pin, user, password };
    const wrongPin = (pin[0] === "0" ? "1" : "0") + pin.slice(1);
    const refused = await dashboard.post("/api/connect", { ...form, pin: wrongPin });
    assertEquals(refused.status, 502);
    assertEquals(refused.body.problem.kind, "certificate-not-trusted");
    assert(/not the pinned/.test(refused.body.problem.message), refused.body.problem.message);

    // A pin typed by hand: colons and capitals as openssl prints it are fine, a typo is refused.
    const typo = await dashboard.post("/api/connect", { ...form, pin: "AB:CD" });
    assertEquals(typo.status, 400);
    assert(
      /^Pinned certificate: expected/.test(typo.body.problem.message),
      typo.body.problem.message,
    );

    // The right pin with a server name its certificate does not name: said so, not "not trusted".
    const named = await dashboard.post("/api/connect", { ...form, serverName: "wrong.example" });
    assertEquals(named.status, 502);
    assertEquals(named.body.problem.kind, "certificate-not-trusted");
    assert(
      /^Wrong server name: .* the pinned certificate, but it is not issued for "wrong\.example" \(it names .*localhost/
        .test(named.body.problem.message),
      named.body.problem.message,
    );

    const colons = pin.toUpperCase().match(/../g).join(":");
    const connected = await dashboard.post("/api/connect", { ...form, pin: colons });
    assertEquals(connected.status, 200, JSON.stringify(connected.body));
    const got = await curl("-x", `socks5h://${listen}`, `http://127.0.0.1:${origin.port}/`);
    assertEquals(got.code, 0, got.stderr);
    assert(new TextDecoder().decode(got.body).includes("says hello"));

    const insecure = link.replace("allowInsecure=0", "allowInsecure=1");
    const bad = await dashboard.post("/api/link", { link: insecure });
    assertEquals(bad.status, 400);
    assert(/certificate checks off/.test(bad.body.problem.message));

    // Links clients would read differently, an empty pin, control characters: refused in words.
    for (
      const [changed, why] of [
        [link.replace("allowInsecure=0", "allowInsecure=0&allowInsecure=1"), /at most once/],
        [link.replace(/sni=[^&#]*/, "$&&sni=evil.example"), /at most once/],
        [link.replace(/pcs=[0-9a-f]+/, "$&&pcs="), /at most once/],
        [link.replace(/pcs=[0-9a-f]+/, "pcs="), /empty pin/],
        [link.replace(/sni=[^&#]*/, "sni=localhost%1B%5B31m"), /without control characters/],
        [link.replace(/#.*$/, "#alice%0A2026-01-01%20forged"), /without control characters/],
      ] as const
    ) {
      assert(changed !== link, `the link has the part to change: ${link}`);
      const reply = await dashboard.post("/api/link", { link: changed });
      assertEquals(reply.status, 400, changed);
      assert(why.test(reply.body.problem.message), reply.body.problem.message);
    }
    assert(!dashboard.program.output.includes(password), "the password is never logged");
  } finally {
    await dashboard.stop();
    await remote.stop();
    await origin.close();
  }
});

Deno.test("in Chromium: paste a link, press Use link and Connect, and a download comes through byte for byte", async () => {
  const remote = await RemoteFixture.start();
  const origin = startOrigin();
  const dashboard = await DashboardFixture.start();
  const chromium = await launch();
  try {
    const { link } = await newLink(remote, "alice");
    const page = await chromium.browser.newPage();
    const pageErrors: string[] = [];
    page.on("pageerror", (error) => pageErrors.push(String(error)));
    await page.goto(dashboard.origin, { waitUntil: "load" });
    await page.waitForSelector("body[data-state=stopped]");
    const ids = await page.$$eval("[id]", (all) => all.map((el) => el.id));
    assertEquals(ids.filter((id, i) => ids.indexOf(id) !== i), [], "ids used twice");
    const listen = `127.0.0.1:${freePort()}`;
    await page.$eval("#listen", (el, v) => (el as HTMLInputElement).value = v as string, listen);
    await page.type("#link", link);
    await page.click("#use-link");
    await page.waitForFunction(() => (document.getElementById("pin") as HTMLInputElement).value);
    const field = (id: string) => page.$eval(`#${id}`, (el) => (el as HTMLInputElement).value);
    assertEquals([await field("remote"), await field("user")], [remote.address, "alice"]);
    assertEquals((await field("pin")).length, 64);
    assertEquals(await field("link"), "", "the link field is emptied once used");
    // The pin is a field the user can type into too (someone with only a fingerprint).
    assertEquals(await page.$eval("#pin", (el) => (el as HTMLInputElement).readOnly), false);

    await page.click("#connect");
    await page.waitForSelector("body[data-state=listening]", { timeout: 20_000 });
    // The state line follows with the next status message (a moment later on a busy machine).
    await page.waitForFunction(
      (where: string) => document.getElementById("state")?.textContent?.includes(where),
      { timeout: 10_000 },
      listen,
    ).catch(() => {});
    assert((await text(page, "#state")).includes(listen), await text(page, "#state"));
    const size = 3_000_000;
    const expected = randomBytes(size);
    const got = await curl(
      "-x",
      `http://${listen}`,
      `http://127.0.0.1:${origin.port}/bytes/${size}`,
    );
    assertEquals(got.code, 0, got.stderr);
    assertEquals(got.body.length, size);
    assert(got.body.every((b, i) => b === expected[i]), "the download differs from what was sent");
    assertEquals(pageErrors, []);
  } finally {
    await chromium.close();
    await dashboard.stop();
    await remote.stop();
    await origin.close();
  }
});

Deno.test("in Chromium: paste a subscription URL, Use link and Connect: the link and the admin's rules in one step, a download byte for byte", async () => {
  const rulesDir = await Deno.makeTempDir({ prefix: "rules-sub-" });
  await Deno.writeTextFile(
    `${rulesDir}/client.yaml`,
    "rules:\n  - DOMAIN-SUFFIX,ads.example,REJECT\n  - MATCH,PROXY\n",
  );
  const remote = await RemoteFixture.start({}, ["--client-rules", `${rulesDir}/client.yaml`]);
  const origin = startOrigin();
  const dashboard = await DashboardFixture.start();
  const chromium = await launch();
  try {
    await remote.user("add", "alice", "--password", "alice-first-secret");
    const url = (await newLink(remote, "alice")).localSubscription!;

    // A wrong pin in the URL: refused in words, nothing filled.
    const pin = /pcs=([0-9a-f]+)/.exec(url)![1]!;
    const wrong = url.replace(pin, (pin[0] === "0" ? "1" : "0") + pin.slice(1));
    const refused = await dashboard.post("/api/link", { link: wrong });
    assertEquals([refused.status, refused.body.problem.kind], [502, "certificate-not-trusted"]);

    const page = await chromium.browser.newPage();
    const pageErrors: string[] = [];
    page.on("pageerror", (error) => pageErrors.push(String(error)));
    await page.goto(dashboard.origin, { waitUntil: "load" });
    await page.waitForSelector("body[data-state=stopped]");
    const listen = `127.0.0.1:${freePort()}`;
    await page.$eval("#listen", (el, v) => (el as HTMLInputElement).value = v as string, listen);
    await page.type("#link", url);
    await page.click("#use-link");
    await page.waitForSelector("#link-note:not([hidden])", { timeout: 20_000 });
    assert(/2 rules/.test(await text(page, "#link-note")), await text(page, "#link-note"));
    const field = (id: string) => page.$eval(`#${id}`, (el) => (el as HTMLInputElement).value);
    assertEquals([await field("remote"), await field("user")], [remote.address, "alice"]);
    assertEquals(await field("pin"), pin);
    // The rules went beside the settings file, where the local loads them.
    assertEquals(
      await Deno.readTextFile(`${dashboard.dir}/subscription/rules.yaml`),
      "rules:\n  - DOMAIN-SUFFIX,ads.example,REJECT\n  - MATCH,PROXY\n",
    );

    await page.click("#connect");
    await page.waitForSelector("body[data-state=listening]", { timeout: 20_000 });
    const size = 1_500_000;
    const expected = randomBytes(size);
    const got = await curl(
      "-x",
      `http://${listen}`,
      `http://127.0.0.1:${origin.port}/bytes/${size}`,
    );
    assertEquals(got.code, 0, got.stderr);
    assertEquals(got.body.length, size);
    assert(got.body.every((b, i) => b === expected[i]), "the download differs from what was sent");
    assertEquals(pageErrors, []);
  } finally {
    await chromium.close();
    await dashboard.stop();
    await remote.stop();
    await origin.close();
    await Deno.remove(rulesDir, { recursive: true });
  }
});
