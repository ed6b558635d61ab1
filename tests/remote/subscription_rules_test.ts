/**
 * Client rules in the subscription (`serve --client-rules`), against a real remote: the Clash
 * YAML (read by the yaml package) and the sing-box JSON carry the rules and their providers
 * inline in each app's terms; the local's document carries the rules file whole, which the
 * rule engine loads and decides with as the admin wrote it; a bad file stops `serve` with the
 * line and the reason (exit 2).
 */
import { parse as parseYaml } from "yaml";
import { assert, assertEquals } from "../_assert.ts";
import { freePort, remoteArgs, RemoteFixture, runProgram } from "../_harness.ts";
import { fetchFrom, newLink } from "./_share.ts";
import { parseLocalSubscription } from "../../lib/rules/local_subscription.ts";
import { parseShareLink } from "../../lib/protocol/share_link.ts";
import { loadRules } from "../../lib/rules/mod.ts";

const RULES = `rule-providers:
  ads: { type: file, behavior: domain, path: ads.yaml }
  lan: { type: inline, behavior: ipcidr, payload: [10.0.0.0/8, "fd00::/8"] }
  streaming: { type: file, behavior: classical, path: streaming.json }
  remote-list: { type: http, behavior: domain, format: text, url: "https://lists.example.org/l.txt", interval: 3600 }
rules:
  - RULE-SET,ads,REJECT
  - DOMAIN-SUFFIX,example.cn,DIRECT
  - DOMAIN-KEYWORD,tracker,REJECT
  - GEOIP,LAN,DIRECT
  - RULE-SET,lan,DIRECT,no-resolve
  - RULE-SET,streaming,PROXY
  - RULE-SET,remote-list,DIRECT
  - DST-PORT,25,REJECT
  - IP-CIDR,192.0.2.0/24,DIRECT
  - GEOIP,CN,DIRECT
  - MATCH,PROXY
`;

const ADS = "payload:\n  - +.ads.example.com\n  - .doubleclick.example\n  - tracker.example.net\n";

const STREAMING = JSON.stringify({
  version: 3,
  rules: [
    { domain_suffix: ["video.example"], port: [443] },
    { domain: ["cdn.example"] },
  ],
});

/** A data directory's client rules: the rules file and its two provider files. */
async function writeRules(dir: string, text = RULES): Promise<string> {
  await Deno.writeTextFile(`${dir}/ads.yaml`, ADS);
  await Deno.writeTextFile(`${dir}/streaming.json`, STREAMING);
  await Deno.writeTextFile(`${dir}/client-rules.yaml`, text);
  return `${dir}/client-rules.yaml`;
}

Deno.test("client rules reach Clash YAML, sing-box JSON and the local's document", async () => {
  const dir = await Deno.makeTempDir({ prefix: "rules-sub-" });
  const remote = await RemoteFixture.start({}, ["--client-rules", await writeRules(dir)]);
  try {
    // serve's lines may come after the fixture saw it listen: waited for, not read at once.
    await remote.program.waitFor(
      /client rules \(.*client-rules\.yaml\): 11 rules, 4 rule-providers/,
    );
    await remote.program.waitFor(
      /rule-provider "remote-list" \(a mihomo list by URL\) and its RULE-SET rules are left out of sing-box/,
    );
    await remote.user("add", "alice", "--password", "alice-first-secret");
    const url = (await newLink(remote, "alice")).subscription!;

    // Clash Meta (mihomo): the yaml package reads the profile; PROXY is the profile's group.
    const clash = parseYaml((await fetchFrom(remote, `${url}/clash`)).body) as {
      proxies: { name: string }[];
      "proxy-groups": { name: string; proxies: string[] }[];
      "rule-providers": Record<string, Record<string, unknown>>;
      rules: string[];
    };
    assertEquals(clash["proxy-groups"][0]!.name, "SwiftProxy");
    assertEquals(clash.rules, [
      "RULE-SET,ads,REJECT",
      "DOMAIN-SUFFIX,example.cn,DIRECT",
      "DOMAIN-KEYWORD,tracker,REJECT",
      "GEOIP,LAN,DIRECT",
      "RULE-SET,lan,DIRECT,no-resolve",
      "RULE-SET,streaming,SwiftProxy",
      "RULE-SET,remote-list,DIRECT",
      "DST-PORT,25,REJECT",
      "IP-CIDR,192.0.2.0/24,DIRECT",
      "GEOIP,CN,DIRECT",
      "MATCH,SwiftProxy",
    ]);
    assertEquals(clash["rule-providers"].ads, {
      type: "inline",
      behavior: "domain",
      payload: ["+.ads.example.com", ".doubleclick.example", "tracker.example.net"],
    });
    assertEquals(clash["rule-providers"].lan, {
      type: "inline",
      behavior: "ipcidr",
      payload: ["10.0.0.0/8", "fd00::/8"],
    });
    assertEquals(clash["rule-providers"].streaming, {
      type: "inline",
      behavior: "classical",
      payload: ["AND,((DOMAIN-SUFFIX,video.example),(DST-PORT,443))", "DOMAIN,cdn.example"],
    });
    assertEquals(clash["rule-providers"]["remote-list"], {
      type: "http",
      behavior: "domain",
      format: "text",
      url: "https://lists.example.org/l.txt",
      path: "./rules/remote-list.txt",
      interval: 3600,
    });

    // sing-box: route.rules with inline rule-sets; PROXY is the trojan outbound's tag.
    const singbox = JSON.parse((await fetchFrom(remote, `${url}/singbox`)).body);
    const proxyTag = singbox.outbounds[0].tag;
    assertEquals(proxyTag, `alice@127.0.0.1`);
    assertEquals(singbox.route.final, proxyTag);
    assertEquals(singbox.route.rules, [
      { action: "sniff" },
      { rule_set: ["ads"], action: "reject" },
      { domain_suffix: ["example.cn"], outbound: "direct" },
      { domain_keyword: ["tracker"], action: "reject" },
      { action: "resolve" },
      { ip_is_private: true, outbound: "direct" },
      { rule_set: ["lan"], outbound: "direct" },
      { rule_set: ["streaming"], outbound: proxyTag },
      { port: [25], action: "reject" },
      { ip_cidr: ["192.0.2.0/24"], outbound: "direct" },
      { rule_set: ["geoip-cn"], outbound: "direct" },
      { network: ["tcp", "udp"], outbound: proxyTag },
    ]);
    const sets = Object.fromEntries(
      singbox.route.rule_set.map((s: { tag: string }) => [s.tag, s]),
    );
    assertEquals(Object.keys(sets).sort(), ["ads", "geoip-cn", "lan", "streaming"]);
    assertEquals(sets.ads, {
      type: "inline",
      tag: "ads",
      rules: [
        { domain_suffix: ["ads.example.com"] },
        { domain_suffix: [".doubleclick.example"] },
        { domain: ["tracker.example.net"] },
      ],
    });
    assertEquals(sets.lan.rules, [{ ip_cidr: ["10.0.0.0/8"] }, { ip_cidr: ["fd00::/8"] }]);
    assertEquals(sets.streaming.rules, [
      {
        type: "logical",
        mode: "and",
        rules: [{ domain_suffix: ["video.example"] }, { port: [443] }],
      },
      { domain: ["cdn.example"] },
    ]);
    assertEquals(sets["geoip-cn"], {
      type: "remote",
      tag: "geoip-cn",
      format: "binary",
      url: "https://raw.githubusercontent.com/SagerNet/sing-geoip/rule-set/geoip-cn.srs",
      download_detour: proxyTag,
    });

    // swiftproxy-local's own document, by its User-Agent: the link and the rules file whole.
    const reply = await fetchFrom(remote, url, { "user-agent": "swiftproxy-local/0.9" });
    assertEquals(reply.headers.get("content-type"), "application/json; charset=utf-8");
    assert(reply.headers.get("subscription-userinfo")?.startsWith("upload="));
    const doc = parseLocalSubscription(reply.body);
    const printed = parseShareLink((await newLink(remote, "alice")).link);
    assertEquals(parseShareLink(doc.link).pin, printed.pin);
    assertEquals(parseShareLink(doc.link).user, "alice");
    // Written out as the local writes it, the engine loads it as a --rules file.
    const local = await Deno.makeTempDir({ prefix: "rules-sub-local-" });
    await Deno.writeTextFile(`${local}/rules.yaml`, doc.rules!.text);
    for (const [name, text] of Object.entries(doc.rules!.files)) {
      await Deno.writeTextFile(`${local}/${name}`, text);
    }
    const { engine, pending } = await loadRules(`${local}/rules.yaml`);
    assertEquals(pending, ["remote-list"], "the list by URL is the local's to fetch");
    const decide = async (host: string, port = 443) =>
      (await engine.decide({ host, port, network: "tcp" })).rule;
    assertEquals(await decide("x.ads.example.com"), "RULE-SET,ads,REJECT");
    assertEquals(await decide("www.example.cn"), "DOMAIN-SUFFIX,example.cn,DIRECT");
    assertEquals(await decide("a.video.example"), "RULE-SET,streaming,PROXY");
    assertEquals(await decide("a.video.example", 80), "MATCH,PROXY");
    assertEquals(await decide("10.1.2.3"), "GEOIP,LAN,DIRECT");
    assertEquals(await decide("smtp.example.org", 25), "DST-PORT,25,REJECT");
    await Deno.remove(local, { recursive: true });
  } finally {
    await remote.stop();
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("a bad --client-rules file stops serve with the file, the line and the reason", async () => {
  const remote = await RemoteFixture.start();
  await remote.stop();
  const dir = await Deno.makeTempDir({ prefix: "rules-sub-" });
  try {
    const cases: [string, RegExp][] = [
      [
        "rules:\n  - DOMAIN-SUFFIX,cn,DIRECT\n  - DOMAIN-SUFFIX,google.com,Proxies\n",
        /client-rules\.yaml: line 3: unknown action "Proxies"/,
      ],
      [
        "rules:\n  - RULE-SET,nothing,DIRECT\n",
        /line 2: no rule-provider named "nothing"/,
      ],
      [
        "rule-providers:\n  ads: { type: file, behavior: domain, path: missing.yaml }\n",
        /line 2: rule-provider "ads": cannot read .*missing\.yaml/,
      ],
    ];
    for (const [text, expected] of cases) {
      const path = await writeRules(dir, text);
      const out = await runProgram(
        remoteArgs(
          "serve",
          "--data",
          remote.dir,
          "--listen",
          `127.0.0.1:${freePort()}`,
          "--client-rules",
          path,
        ),
      );
      assertEquals(out.code, 2, out.stderr);
      assert(expected.test(out.stderr), out.stderr);
    }
    // A provider file with a bad entry: its own line.
    await writeRules(
      dir,
      "rule-providers:\n  ads: { type: file, behavior: domain, path: ads.yaml }\n",
    );
    await Deno.writeTextFile(`${dir}/ads.yaml`, "payload:\n  - ok.example\n  - not a name\n");
    const out = await runProgram(
      remoteArgs(
        "serve",
        "--data",
        remote.dir,
        "--listen",
        `127.0.0.1:${freePort()}`,
        "--client-rules",
        `${dir}/client-rules.yaml`,
      ),
    );
    assertEquals(out.code, 2);
    assert(/rule-provider "ads": line 3: expected a name/.test(out.stderr), out.stderr);
  } finally {
    await Deno.remove(dir, { recursive: true });
    await Deno.remove(remote.dir, { recursive: true }).catch(() => {});
  }
});
