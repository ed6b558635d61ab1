/// <reference lib="dom" />
/**
 * The dashboard's link field: a pasted `trojan://` link fills remote, name, password and the
 * pinned certificate (`POST /api/link`, the parser `--link` uses), Connect then checks the pin;
 * a wrong pin and a link that turns checks off are refused in words. In Chromium, pasting the
 * link and pressing "Use link" then Connect is all a user with only a link has to do. A pasted
 * subscription URL, connected, is followed as `--sub`: its rules in force (DIRECT skips the
 * remote, REJECT is refused), after a restart too, until a plain link is connected.
 */
import { assert, assertEquals } from "../_assert.ts";
import {
  curl,
  freePort,
  localArgs,
  Program,
  randomBytes,
  RemoteFixture,
  startOrigin,
} from "../_harness.ts";
import { newLink } from "../remote/_share.ts";
import { DashboardFixture } from "./_dashboard.ts";
import { launch, text } from "./_chromium.ts";
import { closeQuietly, namedOrigin, socksRequest } from "../e2e/_e2e.ts";

const decoder = new TextDecoder();

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
  const blocked = namedOrigin("blocked");
  const clientRules =
    `rules:\n  - DOMAIN-SUFFIX,ads.example,REJECT\n  - DST-PORT,${blocked.port},REJECT\n` +
    "  - MATCH,PROXY\n";
  await Deno.writeTextFile(`${rulesDir}/client.yaml`, clientRules);
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
    assert(/3 rules/.test(await text(page, "#link-note")), await text(page, "#link-note"));
    const field = (id: string) => page.$eval(`#${id}`, (el) => (el as HTMLInputElement).value);
    assertEquals([await field("remote"), await field("user")], [remote.address, "alice"]);
    assertEquals(await field("pin"), pin);
    // The rules went beside the settings file, where the local loads them.
    assertEquals(await Deno.readTextFile(`${dashboard.dir}/subscription/rules.yaml`), clientRules);

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
    // Connect put the subscription's rules in force: its REJECT is a 403 naming the rule.
    const refusedByRule = await curl("-x", `http://${listen}`, `http://127.0.0.1:${blocked.port}/`);
    assertEquals(
      decoder.decode(refusedByRule.body),
      `403 Forbidden: refused by the rule DST-PORT,${blocked.port},REJECT\n`,
    );
    assertEquals(pageErrors, []);
  } finally {
    await chromium.close();
    await dashboard.stop();
    await remote.stop();
    await origin.close();
    await blocked.close();
    await Deno.remove(rulesDir, { recursive: true });
  }
});

Deno.test("a subscription pasted and connected in the dashboard is followed as --sub: its DIRECT and REJECT rules in force, after a restart too; a plain link pasted turns them off", async () => {
  const direct = namedOrigin("direct");
  const blocked = namedOrigin("blocked");
  const proxied = namedOrigin("proxied");
  const rulesDir = await Deno.makeTempDir({ prefix: "rules-sub-" });
  await Deno.writeTextFile(
    `${rulesDir}/client.yaml`,
    [
      "rules:",
      `  - DST-PORT,${direct.port},DIRECT`,
      `  - DST-PORT,${blocked.port},REJECT`,
      "  - MATCH,PROXY",
      "",
    ].join("\n"),
  );
  const remote = await RemoteFixture.start({}, ["--client-rules", `${rulesDir}/client.yaml`]);
  let dashboard = await DashboardFixture.start();
  const listen = `127.0.0.1:${freePort()}`;
  const get = async (port: number, path: string) => {
    const got = await curl("-x", `socks5h://${listen}`, `http://127.0.0.1:${port}${path}`);
    return decoder.decode(got.body);
  };
  /** The remote's access log has a tunnel to `port` (its line: `… -> 127.0.0.1:PORT …`). */
  const tunnelled = (port: number) => remote.program.output.includes(`-> 127.0.0.1:${port} `);
  const rulesInForce = async (when: string) => {
    const path = `/${when.replaceAll(" ", "-")}`;
    assertEquals(await get(direct.port, path), `direct GET ${path} 0\n`, when);
    const { conn, rep } = await socksRequest(Number(listen.split(":")[1]), {
      host: "127.0.0.1",
      port: blocked.port,
    });
    closeQuietly(conn);
    assertEquals(rep, 0x02, `${when}: the subscription's REJECT is REP 0x02`);
    const forbidden = await curl("-x", `http://${listen}`, `http://127.0.0.1:${blocked.port}/`);
    assertEquals(
      decoder.decode(forbidden.body),
      `403 Forbidden: refused by the rule DST-PORT,${blocked.port},REJECT\n`,
      when,
    );
    assertEquals(await get(proxied.port, path), `proxied GET ${path} 0\n`, when);
    await remote.program.waitFor(new RegExp(`-> 127\\.0\\.0\\.1:${proxied.port} `));
    assert(!tunnelled(direct.port), `${when}: the remote served a tunnel to the DIRECT origin`);
    assert(!tunnelled(blocked.port), `${when}: the remote served a tunnel to the REJECT origin`);
  };
  try {
    await remote.user("add", "alice", "--password", "alice-first-secret");
    await remote.user("add", "bob", "--password", "bob-first-secret");
    const url = (await newLink(remote, "alice")).localSubscription!;
    const token = url.split("/sub/")[1]!.split("#")[0]!;
    const pasted = await dashboard.post("/api/link", { link: url });
    assertEquals(pasted.status, 200, JSON.stringify(pasted.body));
    assertEquals(pasted.body.subscription.rules, 3);
    const { remote: address, user, password, pin, serverName } = pasted.body;
    const form = { listen, remote: address, ca: "", serverName, pin, user, password };
    const connected = await dashboard.post("/api/connect", { ...form, remember: true });
    assertEquals(connected.status, 200, JSON.stringify(connected.body));
    await rulesInForce("after Connect");
    assert(connected.body.direct, "the status splits direct traffic once rules are in force");

    // Kept like the password (remember), in the file only its owner reads.
    const saved = JSON.parse(await Deno.readTextFile(dashboard.settingsPath));
    assertEquals(saved.sub, url);
    assertEquals((await Deno.stat(dashboard.settingsPath)).mode! & 0o777, 0o600);
    const page = await (await fetch(`${dashboard.origin}/api/settings`)).text();
    assert(!page.includes(token), "the settings the page reads hold no subscription token");

    // A restart with the same settings file: the subscription fetched again, its rules in force.
    await dashboard.stop();
    dashboard = await DashboardFixture.start([], saved);
    await dashboard.program.waitFor(/SOCKS5 and HTTP proxy on/, 20_000);
    assert(/subscription taken: alice@/.test(dashboard.program.output), dashboard.program.output);
    await rulesInForce("after a restart");

    // A plain link pasted and connected: no subscription followed, its rules off.
    const { link } = await newLink(remote, "bob");
    const plain = await dashboard.post("/api/link", { link });
    assertEquals(plain.status, 200);
    const bob = { ...form, ...plain.body, listen, ca: "", remember: true };
    const reconnected = await dashboard.post("/api/connect", bob);
    assertEquals(reconnected.status, 200, JSON.stringify(reconnected.body));
    assertEquals(reconnected.body.direct, null, "no rules: everything goes through the server");
    assertEquals(await get(direct.port, "/off"), "direct GET /off 0\n");
    assertEquals(await get(blocked.port, "/off"), "blocked GET /off 0\n");
    await remote.program.waitFor(new RegExp(`-> 127\\.0\\.0\\.1:${blocked.port} `));
    assert(tunnelled(direct.port), "without the subscription's rules, through the remote");
    const after = JSON.parse(await Deno.readTextFile(dashboard.settingsPath));
    assertEquals([after.user, after.sub], ["bob", undefined]);
    assert(!dashboard.program.output.includes(token), "the token is never logged");
  } finally {
    await dashboard.stop();
    await remote.stop();
    await Promise.all([direct.close(), blocked.close(), proxied.close()]);
    await Deno.remove(rulesDir, { recursive: true });
  }
});

Deno.test("a kept subscription whose remote is down at start: the local starts with the rules of its last fetch", async () => {
  const direct = namedOrigin("direct");
  const blocked = namedOrigin("blocked");
  const rulesDir = await Deno.makeTempDir({ prefix: "rules-sub-" });
  await Deno.writeTextFile(
    `${rulesDir}/client.yaml`,
    `rules:\n  - DST-PORT,${direct.port},DIRECT\n  - DST-PORT,${blocked.port},REJECT\n`,
  );
  const remote = await RemoteFixture.start({}, ["--client-rules", `${rulesDir}/client.yaml`]);
  const dashboard = await DashboardFixture.start();
  const listen = `127.0.0.1:${freePort()}`;
  let again: Program | undefined;
  try {
    await remote.user("add", "alice", "--password", "alice-first-secret");
    const url = (await newLink(remote, "alice")).localSubscription!;
    const pasted = await dashboard.post("/api/link", { link: url });
    assertEquals(pasted.status, 200, JSON.stringify(pasted.body));
    const { remote: address, user, password, pin, serverName } = pasted.body;
    const form = { listen, remote: address, ca: "", serverName, pin, user, password };
    const connected = await dashboard.post("/api/connect", { ...form, remember: true });
    assertEquals(connected.status, 200, JSON.stringify(connected.body));
    await dashboard.program.stop();
    await remote.stop();

    // The same settings file and folder, the remote gone: the rules kept are in force.
    again = new Program(localArgs("--no-ui", "--config", dashboard.settingsPath));
    await again.waitFor(/SOCKS5 and HTTP proxy on/, 20_000);
    assert(
      /cannot fetch the subscription now .*its rules from the last fetch are in force/
        .test(again.output),
      again.output,
    );
    const got = await curl("-x", `socks5h://${listen}`, `http://127.0.0.1:${direct.port}/x`);
    assertEquals(decoder.decode(got.body), "direct GET /x 0\n", got.stderr);
    const { conn, rep } = await socksRequest(Number(listen.split(":")[1]), {
      host: "127.0.0.1",
      port: blocked.port,
    });
    closeQuietly(conn);
    assertEquals(rep, 0x02, "the kept REJECT rule");
    assert(
      !again.output.includes(url.split("/sub/")[1]!.split("#")[0]!),
      "the token is not logged",
    );
  } finally {
    await again?.stop();
    await dashboard.stop();
    await remote.stop();
    await Promise.all([direct.close(), blocked.close()]);
    await Deno.remove(rulesDir, { recursive: true });
  }
});
