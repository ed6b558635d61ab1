/**
 * Rules files as a user writes them: every rule type parses to what it says, and a bad line
 * is refused with its line number and the reason.
 */
import { assert, assertEquals, assertThrows } from "../_assert.ts";
import { parseRuleSet, parseRulesFile, RulesError } from "../../lib/rules/mod.ts";

const FILE = `# a comment line
rule-providers:
  ads:
    type: file
    behavior: domain
    path: ./ads.yaml
  lan:
    type: http
    behavior: ipcidr
    format: text
    url: https://example.com/lan.txt
    path: ./cache/lan.txt
    interval: 86400
  cn:
    type: file
    behavior: classical
    path: cn.json
rules:
  - DOMAIN,example.com,PROXY
  - DOMAIN-SUFFIX,google.com,PROXY
  - DOMAIN-KEYWORD,tracker,REJECT
  - DOMAIN-REGEX,^ads?\\d+\\.,REJECT
  - IP-CIDR,10.0.0.0/8,DIRECT,no-resolve
  - IP-CIDR6,fc00::/7,DIRECT
  - GEOIP,CN,DIRECT
  - DST-PORT,22,REJECT
  - DST-PORT,8000-8999/443,direct
  - NETWORK,udp,PROXY
  - RULE-SET,ads,REJECT
  - MATCH,PROXY
`;

Deno.test("rules file: each rule type parses, with its line, action and text as written", () => {
  const { rules, providers } = parseRulesFile(FILE, "rules.yaml");
  assertEquals(
    rules.map((r) => [r.line, r.type, r.action]),
    [
      [19, "DOMAIN", "PROXY"],
      [20, "DOMAIN-SUFFIX", "PROXY"],
      [21, "DOMAIN-KEYWORD", "REJECT"],
      [22, "DOMAIN-REGEX", "REJECT"],
      [23, "IP-CIDR", "DIRECT"],
      [24, "IP-CIDR6", "DIRECT"],
      [25, "GEOIP", "DIRECT"],
      [26, "DST-PORT", "REJECT"],
      [27, "DST-PORT", "DIRECT"],
      [28, "NETWORK", "PROXY"],
      [29, "RULE-SET", "REJECT"],
      [30, "MATCH", "PROXY"],
    ],
  );
  assertEquals(rules[4]!.text, "IP-CIDR,10.0.0.0/8,DIRECT,no-resolve");
  const cidr = rules[4]!;
  assert(cidr.type === "IP-CIDR" && cidr.noResolve && cidr.value.text === "10.0.0.0/8");
  const ports = rules[8]!;
  assert(ports.type === "DST-PORT");
  assertEquals(ports.value, [{ first: 8000, last: 8999 }, { first: 443, last: 443 }]);
  assertEquals([...providers.keys()], ["ads", "lan", "cn"]);
  const lan = providers.get("lan")!;
  assertEquals(
    [lan.type, lan.behavior, lan.format, lan.url, lan.path, lan.interval, lan.line],
    ["http", "ipcidr", "text", "https://example.com/lan.txt", "./cache/lan.txt", 86400, 7],
  );
  assertEquals(providers.get("cn")!.format, "json"); // from the extension
  assertEquals(providers.get("ads")!.format, "yaml"); // mihomo's default
});

/** The error parseRulesFile throws for `text`. */
function refusal(text: string): RulesError {
  return assertThrows(() => parseRulesFile(text, "rules.yaml"), RulesError);
}

Deno.test("rules file: a bad line is refused with its line number and the reason", () => {
  const cases: [string, number, RegExp][] = [
    [
      "rules:\n  - DOMAIN-SUFFIX,google.com,PROXY\n  - DOMAIN-SUFIX,x.com,PROXY\n",
      3,
      /unknown rule type "DOMAIN-SUFIX"/,
    ],
    [
      "rules:\n  - DOMAIN,google.com,Proxies\n",
      2,
      /unknown action "Proxies".*PROXY, DIRECT or REJECT/,
    ],
    ["rules:\n  - MATCH\n", 2, /expected MATCH,ACTION/],
    ["rules:\n  - DOMAIN,google.com\n", 2, /expected TYPE,VALUE,ACTION/],
    ["rules:\n\n  - IP-CIDR,10.0.0.0/33,DIRECT\n", 3, /address range/],
    ["rules:\n  - IP-CIDR,fc00::/7,DIRECT\n", 2, /IP-CIDR takes an IPv4 range/],
    ["rules:\n  - IP-CIDR6,10.0.0.0/8,DIRECT\n", 2, /IP-CIDR6 takes an IPv6 range/],
    ["rules:\n  - GEOIP,China,DIRECT\n", 2, /two-letter country code/],
    ["rules:\n  - DST-PORT,70000,DIRECT\n", 2, /port/],
    ["rules:\n  - NETWORK,icmp,DIRECT\n", 2, /tcp or udp/],
    ["rules:\n  - DOMAIN-REGEX,(unclosed,REJECT\n", 2, /regular expression/],
    ["rules:\n  - DOMAIN,x.com,DIRECT,no-resolve\n", 2, /unsupported option "no-resolve"/],
    ["rules:\n  - RULE-SET,missing,DIRECT\n", 2, /no rule-provider named "missing"/],
    ["rules:\n  - 42\n", 2, /expected a rule/],
    ["rules:\n  - [unclosed\n", 3, /./],
    ["rules: DOMAIN,x,PROXY\n", 1, /rules: is a list/],
    [
      "rule-providers:\n  a:\n    type: ftp\n    behavior: domain\n",
      2,
      /type is file, http or inline/,
    ],
    [
      "rule-providers:\n  a:\n    type: file\n    behaviour: domain\n",
      2,
      /unknown key "behaviour"/,
    ],
    ["rule-providers:\n  a:\n    type: file\n    behavior: domain\n", 2, /needs path/],
    [
      "rule-providers:\n  a:\n    type: file\n    behavior: domain\n    path: a.mrs\n    format: mrs\n",
      2,
      /mrs/,
    ],
  ];
  for (const [text, line, reason] of cases) {
    const error = refusal(text);
    assertEquals(error.line, line, `${text} → ${error.message}`);
    assert(reason.test(error.reason), `${text} → ${error.reason}`);
    assert(error.message.startsWith(`rules.yaml: line ${line}: `), error.message);
  }
});

Deno.test("rules file: an empty file or one with other mihomo keys has no rules and is accepted", () => {
  assertEquals(parseRulesFile("", "r").rules, []);
  const config = "mixed-port: 7890\nproxies: []\nrules:\n  - MATCH,DIRECT\n";
  assertEquals(parseRulesFile(config, "r").rules.map((r) => r.text), ["MATCH,DIRECT"]);
});

Deno.test("rule-sets: mihomo domain, ipcidr and classical, yaml and text, with line numbers", () => {
  const domains = parseRuleSet(
    "payload:\n  - '+.google.com'\n  - '.ads.net'\n  - '*.cdn.org'\n  - exact.io\n",
    "yaml",
    "domain",
    "d",
  );
  assertEquals(
    domains.conditions.map((c) => [c.type, "value" in c ? c.value : null]),
    [["DOMAIN-SUFFIX", "google.com"], ["DOMAIN-BELOW", "ads.net"], ["DOMAIN-WILDCARD", "cdn.org"], [
      "DOMAIN",
      "exact.io",
    ]],
  );
  const cidrs = parseRuleSet("# lan\n10.0.0.0/8\n\nfc00::/7\n1.2.3.4\n", "text", "ipcidr", "c");
  assertEquals(cidrs.conditions.map((c) => c.type), ["IP-CIDR", "IP-CIDR6", "IP-CIDR"]);
  const classical = parseRuleSet(
    "DOMAIN-SUFFIX,cn\nIP-CIDR,1.0.0.0/8,no-resolve\nGEOIP,CN\n",
    "text",
    "classical",
    "x",
  );
  assertEquals(classical.conditions.map((c) => c.type), ["DOMAIN-SUFFIX", "IP-CIDR", "GEOIP"]);
  assert(classical.usesGeoIp);
  const bad: [string, "yaml" | "text", "domain" | "ipcidr" | "classical", number, RegExp][] = [
    ["a.com\nnot a name\n", "text", "domain", 2, /expected a name/],
    ["10.0.0.0/8\n\n10.0.0.300/8\n", "text", "ipcidr", 3, /address range/],
    [
      "DOMAIN,a.com\nMATCH,PROXY\n",
      "text",
      "classical",
      2,
      /not a rule type a classical rule-set takes/,
    ],
    ["DOMAIN,a.com,DIRECT\n", "text", "classical", 1, /unexpected "DIRECT"/],
    ["payload:\n  - a.com\n  - [x]\n", "yaml", "domain", 3, /expected a string/],
    ["rules:\n  - a.com\n", "yaml", "domain", 1, /payload/],
  ];
  for (const [text, format, behavior, line, reason] of bad) {
    const error = assertThrows(() => parseRuleSet(text, format, behavior, "set"), RulesError);
    assertEquals(error.line, line, error.message);
    assert(reason.test(error.reason), error.message);
    assert(error.message.startsWith(`set: line ${line}`), error.message);
  }
});

Deno.test("rule-sets: a sing-box source JSON (versions 1–3), and its refusals with lines", () => {
  const json = JSON.stringify(
    {
      version: 2,
      rules: [
        {
          domain: ["a.com"],
          domain_suffix: ["b.com", ".c.com"],
          domain_keyword: "kw",
          domain_regex: ["^r\\d"],
        },
        { ip_cidr: ["10.0.0.0/8", "2001:db8::/32"], port: [443, 8443] },
        { network: "udp", port_range: ["1000:2000"] },
      ],
    },
    null,
    2,
  );
  const set = parseRuleSet(json, "json", "classical", "sb");
  assertEquals(set.conditions.length, 3);
  const [names, addresses, udp] = set.conditions;
  assert(names?.type === "AND" && addresses?.type === "AND" && udp?.type === "AND");
  assertEquals(names.value[0]!.map((c) => c.type), [
    "DOMAIN",
    "DOMAIN-SUFFIX",
    "DOMAIN-BELOW",
    "DOMAIN-KEYWORD",
    "DOMAIN-REGEX",
  ]);
  assertEquals(addresses.value.map((g) => g.map((c) => c.type)), [["IP-CIDR", "IP-CIDR6"], [
    "DST-PORT",
  ]]);
  assertEquals(udp.value.map((g) => g.map((c) => c.type)), [["NETWORK"], ["DST-PORT"]]);
  const bad: [string, number, RegExp][] = [
    ['{"version": 4, "rules": []}', 1, /version/],
    [
      '{\n  "version": 1,\n  "rules": [\n    {"domain": ["a.com"]},\n    {"process_name": ["x"]}\n  ]\n}',
      5,
      /field "process_name" is not supported/,
    ],
    [
      '{\n  "version": 1,\n  "rules": [\n    {"ip_cidr": ["10.0.0.0/99"]}\n  ]\n}',
      4,
      /address range/,
    ],
    ['{\n  "version": 3,\n  "rules": {}\n}', 3, /"rules": \[/],
    ['{"version": 1, "rules": [{}]}', 1, /at least one/],
    ['{"version": 1,', 1, /./],
  ];
  for (const [text, line, reason] of bad) {
    const error = assertThrows(() => parseRuleSet(text, "json", "classical", "sb"), RulesError);
    assertEquals(error.line, line, `${text} → ${error.message}`);
    assert(reason.test(error.reason), error.message);
  }
});
