/// <reference lib="dom" />
/**
 * The panel's client rules in Chromium: none at first; the admin types a rules file and saves;
 * the next Clash subscription carries it, the data directory keeps it, the audit log has the
 * change; a bad file is refused with its line and nothing changes. With `--client-rules FILE`
 * the card shows that file read-only and the API refuses a change (409).
 */
import { parse as parseYaml } from "yaml";
import { assert, assertEquals } from "../../_assert.ts";
import { launch, text } from "../../dashboard/_chromium.ts";
import { AdminClient, startAdmin } from "./_admin.ts";
import { inProcessLink } from "../_share.ts";
import { ClientRulesSetting } from "../../../lib/remote/share/client_rules_setting.ts";
import { parseClientRules } from "../../../lib/rules/client_rules.ts";

/** `GET /sub/PATH` from the in-process remote: the body. */
async function subscription(port: number, certPath: string, path: string): Promise<string> {
  const client = Deno.createHttpClient({ caCerts: [await Deno.readTextFile(certPath)] });
  try {
    return await (await fetch(`https://127.0.0.1:${port}/sub/${path}`, { client })).text();
  } finally {
    client.close();
  }
}

/** The user's Clash profile's rules. */
async function clashRules(port: number, certPath: string, token: string): Promise<string[]> {
  const body = await subscription(port, certPath, `${token}/clash`);
  return (parseYaml(body) as { rules: string[] }).rules;
}

Deno.test("in Chromium: the admin sets the client rules, the next subscription carries them; a bad file is refused", async () => {
  const data = await Deno.makeTempDir({ prefix: "rules-sub-data-" });
  const admin = await startAdmin({}, { alice: "alice-secret" }, {
    clientRules: ClientRulesSetting.open(data),
  });
  const chromium = await launch();
  try {
    const { remote } = admin;
    const { token } = await inProcessLink(remote, "alice");
    assertEquals(await clashRules(remote.port, remote.certPath, token), ["MATCH,SwiftProxy"]);
    const before = JSON.parse(await subscription(remote.port, remote.certPath, `${token}/singbox`));
    assertEquals(before.route, { final: before.outbounds[0].tag }, "no rules: as before");
    const local = JSON.parse(await subscription(remote.port, remote.certPath, `${token}/local`));
    assertEquals(local.rules, null);

    const page = await chromium.browser.newPage();
    const pageErrors: string[] = [];
    page.on("pageerror", (error) => pageErrors.push(String(error)));
    await page.goto(`${admin.origin}/`, { waitUntil: "load" });
    await page.type("#login-password", "correct horse battery");
    await page.click("#login");
    await page.waitForSelector("#rules-card:not([hidden])");
    assert((await text(page, "#rules-state")).startsWith("None"));

    // A bad file: its line and reason, and nothing changes.
    await page.type("#rules-text", "rules:\n  - DOMAIN-SUFFIX,cn,DIRECT\n  - MATCH,Proxies\n");
    await page.click("#rules-save");
    await page.waitForSelector("#rules-message.error:not([hidden])");
    assert(/line 3: unknown action "Proxies"/.test(await text(page, "#rules-message")));
    assertEquals(await clashRules(remote.port, remote.certPath, token), ["MATCH,SwiftProxy"]);

    await page.$eval("#rules-text", (el) => (el as HTMLTextAreaElement).value = "");
    const good =
      "rule-providers:\n  lan: { type: inline, behavior: ipcidr, payload: [10.0.0.0/8] }\n" +
      "rules:\n  - DOMAIN-SUFFIX,cn,DIRECT\n  - RULE-SET,lan,DIRECT\n  - MATCH,PROXY\n";
    await page.type("#rules-text", good);
    await page.click("#rules-save");
    await page.waitForFunction(() =>
      document.getElementById("rules-state")!.textContent!.startsWith("3 rules")
    );
    assertEquals(await clashRules(remote.port, remote.certPath, token), [
      "DOMAIN-SUFFIX,cn,DIRECT",
      "RULE-SET,lan,DIRECT",
      "MATCH,SwiftProxy",
    ]);
    assertEquals(await Deno.readTextFile(`${data}/client-rules.yaml`), good);
    // A restart reads what the panel kept.
    assertEquals(ClientRulesSetting.open(data).view().rules, 3);
    const client = new AdminClient(admin.origin);
    await client.login();
    const audit = (await client.call("GET", "/api/audit")).body as { action: string }[];
    assert(audit.some((e) => e.action === "client-rules.set"), "the change is in the audit log");
    assertEquals(pageErrors, []);
  } finally {
    await chromium.close();
    await admin.stop();
    await Deno.remove(data, { recursive: true });
  }
});

Deno.test("with --client-rules the panel shows the file read-only and the API refuses a change", async () => {
  const data = await Deno.makeTempDir({ prefix: "rules-sub-data-" });
  const path = `${data}/flag.yaml`;
  const rulesText = "rules:\n  - GEOIP,LAN,DIRECT\n";
  await Deno.writeTextFile(path, rulesText);
  const flag = { path, rules: parseClientRules(rulesText, path, Deno.readTextFileSync) };
  const admin = await startAdmin({}, { alice: "alice-secret" }, {
    clientRules: ClientRulesSetting.open(data, flag),
  });
  const chromium = await launch();
  try {
    const client = new AdminClient(admin.origin);
    await client.login();
    const view = await client.call("GET", "/api/client-rules");
    assertEquals([view.status, view.body.origin, view.body.path], [200, "flag", path]);
    const refused = await client.call("POST", "/api/client-rules", { text: "rules: []\n" });
    assertEquals(refused.status, 409);
    assert(/edit that file and restart/.test(refused.body.error));

    const page = await chromium.browser.newPage();
    await page.goto(`${admin.origin}/`, { waitUntil: "load" });
    await page.type("#login-password", "correct horse battery");
    await page.click("#login");
    await page.waitForSelector("#rules-card[data-origin=flag]:not([hidden])");
    assert((await text(page, "#rules-state")).includes(path));
    assert(await page.$eval("#rules-text", (el) => (el as HTMLTextAreaElement).readOnly));
    assert(await page.$eval("#rules-save", (el) => (el as HTMLButtonElement).hidden));
    assertEquals(
      await page.$eval("#rules-text", (el) => (el as HTMLTextAreaElement).value),
      rulesText,
    );
  } finally {
    await chromium.close();
    await admin.stop();
    await Deno.remove(data, { recursive: true });
  }
});
