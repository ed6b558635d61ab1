/**
 * Decisions as a connection meets them: first match wins, names before addresses, a name
 * resolved only when an IP rule needs it (and not with no-resolve), rule-sets from a file and
 * from a sing-box source JSON, ports and networks. Names resolve through a table in the test:
 * nothing leaves the machine.
 */
import { assert, assertEquals, assertRejects } from "../_assert.ts";
import {
  type Decision,
  loadRules,
  parseRulesFile,
  type Query,
  RuleEngine,
  RulesError,
} from "../../lib/rules/mod.ts";

/** An engine for `rules` (lines of `rules:`), with inline providers given as `providers`. */
function engineOf(rules: string[], providers = ""): Promise<RuleEngine> {
  const text = `${providers}rules:\n${rules.map((r) => `  - ${r}\n`).join("")}`;
  return RuleEngine.create(parseRulesFile(text, "test"), new Map());
}

/** A resolver from a table, counting the names it was asked. */
function resolver(table: Record<string, string[]>) {
  const asked: string[] = [];
  const resolve = (name: string) => {
    asked.push(name);
    return Promise.resolve(table[name] ?? []);
  };
  return { asked, resolve };
}

const tcp = (host: string, port = 443): Query => ({ host, port, network: "tcp" });

async function rule(engine: RuleEngine, query: Query, resolve?: (n: string) => Promise<string[]>) {
  const d: Decision = await engine.decide(query, resolve);
  return `${d.action} ${d.rule}`;
}

Deno.test("decide: no rules, or none matching, goes through the server", async () => {
  const empty = await RuleEngine.create(parseRulesFile("", "none"), new Map());
  assertEquals(await empty.decide(tcp("127.0.0.1", 80)), {
    action: "PROXY",
    rule: "(default)",
    index: -1,
  });
  const some = await engineOf(["DOMAIN,a.com,DIRECT"]);
  assertEquals(await rule(some, tcp("b.com")), "PROXY (default)");
});

Deno.test("decide: the first matching rule wins, whatever its type", async () => {
  const engine = await engineOf([
    "DOMAIN,www.google.com,REJECT",
    "DOMAIN-SUFFIX,google.com,DIRECT",
    "DOMAIN-KEYWORD,google,REJECT",
    "DOMAIN-SUFFIX,mail.google.com,REJECT", // never reached: the suffix above matches first
    "DOMAIN-REGEX,^ads?\\d*\\.,REJECT",
    "DOMAIN-KEYWORD,tracker,REJECT",
    "DOMAIN-SUFFIX,tracker.example,DIRECT", // the keyword above wins
    "MATCH,PROXY",
  ]);
  assertEquals(await rule(engine, tcp("www.google.com")), "REJECT DOMAIN,www.google.com,REJECT");
  assertEquals(await rule(engine, tcp("WWW.Google.COM.")), "REJECT DOMAIN,www.google.com,REJECT");
  assertEquals(await rule(engine, tcp("google.com")), "DIRECT DOMAIN-SUFFIX,google.com,DIRECT");
  assertEquals(
    await rule(engine, tcp("mail.google.com")),
    "DIRECT DOMAIN-SUFFIX,google.com,DIRECT",
  );
  assertEquals(await rule(engine, tcp("notgoogle.com")), "REJECT DOMAIN-KEYWORD,google,REJECT");
  assertEquals(
    await rule(engine, tcp("google.com.evil.net")),
    "REJECT DOMAIN-KEYWORD,google,REJECT",
  );
  assertEquals(
    await rule(engine, tcp("ad7.example.net")),
    "REJECT DOMAIN-REGEX,^ads?\\d*\\.,REJECT",
  );
  assertEquals(await rule(engine, tcp("bad.example.net")), "PROXY MATCH,PROXY");
  assertEquals(
    await rule(engine, tcp("a.tracker.example")),
    "REJECT DOMAIN-KEYWORD,tracker,REJECT",
  );
  assertEquals((await engine.decide(tcp("x.org"))).index, 7);
});

Deno.test("decide: an IP rule resolves a name once, unless no-resolve; addresses match directly", async () => {
  const engine = await engineOf([
    "DOMAIN-SUFFIX,direct.test,DIRECT",
    "IP-CIDR,10.0.0.0/8,REJECT,no-resolve",
    "IP-CIDR,192.168.0.0/16,DIRECT",
    "IP-CIDR6,fd00::/8,DIRECT",
    "MATCH,PROXY",
  ]);
  const { asked, resolve } = resolver({
    "lan.test": ["192.168.1.5"],
    "ten.test": ["10.1.1.1"],
    "v6.test": ["fd12::1"],
  });
  // A name rule decides before any resolution.
  assertEquals(
    await rule(engine, tcp("www.direct.test"), resolve),
    "DIRECT DOMAIN-SUFFIX,direct.test,DIRECT",
  );
  assertEquals(asked, []);
  // 10.0.0.0/8 is no-resolve: a name that resolves there skips it, then the next IP rule resolves.
  assertEquals(await rule(engine, tcp("ten.test"), resolve), "PROXY MATCH,PROXY");
  assertEquals(
    await rule(engine, tcp("lan.test"), resolve),
    "DIRECT IP-CIDR,192.168.0.0/16,DIRECT",
  );
  assertEquals(await rule(engine, tcp("v6.test"), resolve), "DIRECT IP-CIDR6,fd00::/8,DIRECT");
  assertEquals(asked, ["ten.test", "lan.test", "v6.test"]);
  // Cached: asked again, answered without the resolver, synchronously.
  const again = engine.decide(tcp("lan.test"), resolve);
  assert(!(again instanceof Promise), "a cached name is decided synchronously");
  assertEquals(again.rule, "IP-CIDR,192.168.0.0/16,DIRECT");
  assertEquals(asked.length, 3);
  // An address given by the app matches the no-resolve rule too, and is never resolved.
  assertEquals(
    await rule(engine, { ip: "10.2.3.4", port: 80, network: "tcp" }, resolve),
    "REJECT IP-CIDR,10.0.0.0/8,REJECT,no-resolve",
  );
  assertEquals(
    await rule(engine, tcp("10.2.3.4"), resolve),
    "REJECT IP-CIDR,10.0.0.0/8,REJECT,no-resolve",
  );
  assertEquals(await rule(engine, tcp("[fd00::1]"), resolve), "DIRECT IP-CIDR6,fd00::/8,DIRECT");
  assertEquals(
    await rule(engine, tcp("::ffff:192.168.0.1"), resolve),
    "DIRECT IP-CIDR,192.168.0.0/16,DIRECT",
  );
  assertEquals(asked.length, 3);
  // A name that does not resolve, or no resolver, matches no IP rule.
  assertEquals(await rule(engine, tcp("nowhere.test"), resolve), "PROXY MATCH,PROXY");
  assertEquals(await rule(engine, tcp("lan2.test")), "PROXY MATCH,PROXY");
  const failing = () => Promise.reject(new Error("SERVFAIL"));
  assertEquals(await rule(engine, tcp("fails.test"), failing), "PROXY MATCH,PROXY");
});

Deno.test("decide: overlapping IP-CIDR rules in a row keep first-match order", async () => {
  const engine = await engineOf([
    "IP-CIDR,10.1.0.0/16,REJECT",
    "IP-CIDR,10.0.0.0/8,DIRECT",
    "IP-CIDR,10.1.2.0/24,PROXY", // inside both above: never reached
    "IP-CIDR,0.0.0.0/0,PROXY",
  ]);
  const at = (ip: string) => rule(engine, { ip, port: 1, network: "tcp" });
  assertEquals(await at("10.1.2.3"), "REJECT IP-CIDR,10.1.0.0/16,REJECT");
  assertEquals(await at("10.2.0.1"), "DIRECT IP-CIDR,10.0.0.0/8,DIRECT");
  assertEquals(await at("10.255.255.255"), "DIRECT IP-CIDR,10.0.0.0/8,DIRECT");
  assertEquals(await at("11.0.0.0"), "PROXY IP-CIDR,0.0.0.0/0,PROXY");
  assertEquals(await at("0.0.0.0"), "PROXY IP-CIDR,0.0.0.0/0,PROXY");
  assertEquals(await at("2001:db8::1"), "PROXY (default)"); // an IPv4 rule never matches IPv6
});

Deno.test("decide: DST-PORT and NETWORK", async () => {
  const engine = await engineOf([
    "DST-PORT,22,REJECT",
    "DST-PORT,8000-8999/53,DIRECT",
    "NETWORK,udp,DIRECT",
    "MATCH,PROXY",
  ]);
  assertEquals(await rule(engine, tcp("a.com", 22)), "REJECT DST-PORT,22,REJECT");
  assertEquals(await rule(engine, tcp("a.com", 8500)), "DIRECT DST-PORT,8000-8999/53,DIRECT");
  assertEquals(await rule(engine, tcp("a.com", 53)), "DIRECT DST-PORT,8000-8999/53,DIRECT");
  assertEquals(await rule(engine, tcp("a.com", 9000)), "PROXY MATCH,PROXY");
  assertEquals(
    await rule(engine, { host: "a.com", port: 9000, network: "udp" }),
    "DIRECT NETWORK,udp,DIRECT",
  );
});

Deno.test("decide: RULE-SET from files (mihomo domain, ipcidr, classical) and a sing-box source JSON", async () => {
  const dir = await Deno.makeTempDir();
  try {
    await Deno.writeTextFile(
      `${dir}/ads.yaml`,
      "payload:\n  - '+.doubleclick.net'\n  - '.ads.example'\n  - '*.track.example'\n  - exact.example\n",
    );
    await Deno.writeTextFile(`${dir}/lan.txt`, "# private\n10.0.0.0/8\nfc00::/7\n");
    await Deno.writeTextFile(`${dir}/games.list`, "DST-PORT,27015\nDOMAIN-KEYWORD,steam\n");
    await Deno.writeTextFile(
      `${dir}/cn.json`,
      JSON.stringify({
        version: 3,
        rules: [
          { domain_suffix: ["cn", ".baidu.com"] },
          { ip_cidr: ["114.114.114.0/24"], port: [53] },
          { network: ["udp"], port_range: ["3478:3479"] },
          // sing-box: a name field or an address field matches, not both at once
          { domain: ["either.test"], ip_cidr: ["203.0.113.0/24"] },
        ],
      }),
    );
    await Deno.writeTextFile(
      `${dir}/rules.yaml`,
      `rule-providers:
  ads: { type: file, behavior: domain, path: ads.yaml }
  lan: { type: file, behavior: ipcidr, path: ./lan.txt }
  games: { type: file, behavior: classical, path: games.list }
  cn: { type: file, behavior: classical, format: json, path: cn.json }
  remote: { type: http, behavior: domain, url: "https://example.com/x.yaml", path: ./cache/x.yaml }
rules:
  - RULE-SET,ads,REJECT
  - RULE-SET,lan,DIRECT,no-resolve
  - RULE-SET,games,DIRECT
  - RULE-SET,cn,DIRECT
  - RULE-SET,remote,REJECT
  - MATCH,PROXY
`,
    );
    const { engine, pending } = await loadRules(`${dir}/rules.yaml`);
    assertEquals(pending, ["remote"]); // no kept copy yet: empty until fetched
    const { asked, resolve } = resolver({
      "dns.test": ["114.114.114.114"],
      "lan.test": ["10.0.0.1"],
      "either.test": ["198.51.100.1"],
      "other.test": ["203.0.113.7"],
    });
    const set = (name: string, action: string, extra = "") =>
      `${action} RULE-SET,${name},${action}${extra}`;
    assertEquals(await rule(engine, tcp("ad.doubleclick.net"), resolve), set("ads", "REJECT"));
    assertEquals(await rule(engine, tcp("doubleclick.net"), resolve), set("ads", "REJECT"));
    assertEquals(await rule(engine, tcp("x.ads.example"), resolve), set("ads", "REJECT"));
    assertEquals(await rule(engine, tcp("ads.example"), resolve), "PROXY MATCH,PROXY"); // ".": below only
    assertEquals(await rule(engine, tcp("a.track.example"), resolve), set("ads", "REJECT"));
    assertEquals(await rule(engine, tcp("a.b.track.example"), resolve), "PROXY MATCH,PROXY"); // "*": one label
    assertEquals(await rule(engine, tcp("exact.example"), resolve), set("ads", "REJECT"));
    assertEquals(
      await rule(engine, { ip: "10.9.9.9", port: 80, network: "tcp" }),
      set("lan", "DIRECT", ",no-resolve"),
    );
    assertEquals(
      await rule(engine, tcp("store.steampowered.com"), resolve),
      set("games", "DIRECT"),
    );
    assertEquals(await rule(engine, tcp("game.test", 27015), resolve), set("games", "DIRECT"));
    assertEquals(await rule(engine, tcp("www.gov.cn"), resolve), set("cn", "DIRECT"));
    assertEquals(await rule(engine, tcp("www.baidu.com"), resolve), set("cn", "DIRECT"));
    assertEquals(await rule(engine, tcp("baidu.com"), resolve), "PROXY MATCH,PROXY"); // ".baidu.com": below only
    assertEquals(await rule(engine, tcp("dns.test", 53), resolve), set("cn", "DIRECT")); // resolved: IP and port
    assertEquals(await rule(engine, tcp("dns.test", 443), resolve), "PROXY MATCH,PROXY"); // IP but not the port
    assertEquals(
      await rule(engine, { host: "stun.test", port: 3478, network: "udp" }, resolve),
      set("cn", "DIRECT"),
    );
    assertEquals(await rule(engine, tcp("stun.test", 3478), resolve), "PROXY MATCH,PROXY");
    assertEquals(await rule(engine, tcp("either.test"), resolve), set("cn", "DIRECT")); // by name
    assertEquals(await rule(engine, tcp("other.test"), resolve), set("cn", "DIRECT")); // by address
    // lan is no-resolve: a name resolving into 10/8 is not DIRECT through it.
    assertEquals(await rule(engine, tcp("lan.test"), resolve), "PROXY MATCH,PROXY");
    assert(asked.includes("dns.test"));
    // A refreshed provider replaces its set; a bad refresh keeps the old one.
    assertEquals(await rule(engine, tcp("new.example"), resolve), "PROXY MATCH,PROXY");
    await engine.updateProvider("remote", "payload:\n  - '+.new.example'\n");
    assertEquals(await rule(engine, tcp("a.new.example"), resolve), set("remote", "REJECT"));
    const bad = await assertRejects(
      () => engine.updateProvider("remote", "payload:\n  - 'a b'\n"),
      RulesError,
    );
    assertEquals(bad.line, 2);
    assertEquals(await rule(engine, tcp("a.new.example"), resolve), set("remote", "REJECT"));
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("loadRules: a missing file provider or a bad provider file is refused with file and line", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const path = `${dir}/rules.yaml`;
    await Deno.writeTextFile(
      path,
      "rule-providers:\n  ads:\n    type: file\n    behavior: domain\n    path: ads.txt\nrules:\n  - RULE-SET,ads,REJECT\n",
    );
    const missing = await assertRejects(() => loadRules(path), RulesError);
    assertEquals(missing.line, 2);
    assert(
      missing.message.startsWith(`${path}: line 2: rule-provider "ads": cannot read`),
      missing.message,
    );
    await Deno.writeTextFile(`${dir}/ads.txt`, "good.example\nbad example\n");
    const bad = await assertRejects(() => loadRules(path), RulesError);
    assertEquals([bad.line, bad.source], [2, 'rule-provider "ads"']);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
