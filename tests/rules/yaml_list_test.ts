/**
 * The line reader of a long `rules:` / `payload:` list gives what the YAML parser's tree gives,
 * for every file: the same rules and providers, or the same error on the same line; a shape it
 * does not take goes to the parser (so it refuses nothing the parser accepts), and the common
 * shapes are read by it.
 */
import { assert, assertEquals } from "../_assert.ts";
import { parseRulesFile } from "../../lib/rules/mod.ts";
import { parseYamlList, yamlEntries } from "../../lib/rules/rule_set.ts";

/** What parsing gave: the whole result, or the error's message (it names the line). */
function outcome(parse: () => unknown): string {
  try {
    return `ok ${Deno.inspect(parse(), { depth: 10, iterableLimit: 1000 })}`;
  } catch (e) {
    return `error ${e instanceof Error ? e.message : String(e)}`;
  }
}

function sameAsYaml(text: string, label: string): string {
  const fast = outcome(() => parseRulesFile(text, "f"));
  assertEquals(fast, outcome(() => parseRulesFile(text, "f", true)), label);
  const payload = text.replaceAll("rules:", "payload:");
  assertEquals(
    outcome(() => yamlEntries(payload)),
    outcome(() => yamlEntries(payload, true)),
    `${label} (payload)`,
  );
  return fast;
}

const PROVIDERS = "rule-providers:\n  ads: { type: file, behavior: domain, path: ads.txt }\n";

/** Files the reader takes: [label, text]. */
const READ: [string, string][] = [
  ["two-space indent", "rules:\n  - DOMAIN,a.com,DIRECT\n  - MATCH,PROXY\n"],
  ["items at column 0", "rules:\n- DOMAIN,a.com,DIRECT\n- MATCH,PROXY"],
  ["providers after", `rules:\n  - RULE-SET,ads,REJECT\n  - MATCH,PROXY\n${PROVIDERS}`],
  ["providers before", `${PROVIDERS}rules:\n  - RULE-SET,ads,REJECT\n  - MATCH,PROXY\n`],
  [
    "comments everywhere",
    "# head\nrules: # the list\n  # first\n  - 'DOMAIN,a,DIRECT' # comment\n" +
    "# column 0\n      # deeper\n  - DOMAIN,b,DIRECT # c\n  - DOMAIN-KEYWORD,c#d,DIRECT\n\n" +
    '  - "DOMAIN,e,REJECT"\t# tab\n  -    MATCH,PROXY   \n# tail\n',
  ],
  [
    "quotes",
    "rules:\n  - 'DOMAIN,it''s,DIRECT'\n  - \"DOMAIN-REGEX,^a[b]{1},DIRECT\"\n  - ' MATCH,PROXY '\n",
  ],
  ["CRLF", "rules:\r\n  - DOMAIN,a,DIRECT\r\n\r\n  - 'MATCH,PROXY' # c\r\nother: 1\r\n"],
  ["BOM", "\uFEFFrules:\n  - DOMAIN,a,DIRECT\n"],
  [
    "tab inside a value and before a comment",
    "rules:\n  - DOMAIN,a,\tDIRECT\n  - MATCH,PROXY\t#c\n",
  ],
  ["an empty list", "rules:\n\nother: 1\n"],
  [
    "a whole mihomo config",
    "port: 7890\nproxies:\n  - {name: a, type: trojan}\nrules:\n  - MATCH,DIRECT\ndns:\n  enable: true\n",
  ],
  ["a bad rule: its line", "rules:\n  - DOMAIN,a,DIRECT\n\n  - NOPE,b,DIRECT\n"],
  ["a RULE-SET with no provider", "rules:\n  - RULE-SET,none,DIRECT\n"],
  ["a quoted empty rule", "rules:\n  - ''\n"],
  [
    "a bad provider after the list",
    "rules:\n  - MATCH,PROXY\n\nrule-providers:\n  x: { type: ftp }\n",
  ],
  ["a bad provider", "rule-providers:\n  x: { type: ftp }\nrules:\n  - MATCH,PROXY\n"],
];

/** Files the reader leaves to the parser: [label, text]. */
const PARSER: [string, string][] = [
  ["a flow list", "rules: [DOMAIN,a,DIRECT, MATCH,PROXY]\n"],
  ["a flow list on lines", "rules: [\n  'DOMAIN,a,DIRECT',\n  'MATCH,PROXY' ]\n"],
  ["an anchor and an alias", "rules:\n  - &m MATCH,PROXY\n  - *m\n"],
  ["a tag", "rules:\n  - !!str MATCH,PROXY\n"],
  ["a plain scalar on two lines", "rules:\n  - DOMAIN,a,\n    DIRECT\n  - MATCH,PROXY\n"],
  ["a quoted scalar on two lines", "rules:\n  - 'DOMAIN,a,\n    DIRECT'\n"],
  ["an escape", 'rules:\n  - "DOMAIN,a\\u002cb,DIRECT"\n'],
  ["a number", "rules:\n  - 123\n  - MATCH,PROXY\n"],
  ["a boolean", "rules:\n  - true\n"],
  ["a null item", "rules:\n  -\n  - MATCH,PROXY\n"],
  ["a mapping item", "rules:\n  - type: x\n"],
  ["a nested list", "rules:\n  - - MATCH,PROXY\n"],
  ["an item comment only", "rules:\n  - # nothing\n    MATCH,PROXY\n"],
  ["tab indent", "rules:\n\t- MATCH,PROXY\n"],
  ["tab after the dash", "rules:\n  -\tMATCH,PROXY\n"],
  ["uneven indent", "rules:\n  - DOMAIN,a,DIRECT\n   - MATCH,PROXY\n"],
  ["the key twice", "rules:\n  - MATCH,PROXY\nrules:\n  - MATCH,DIRECT\n"],
  ["a quoted key", '"rules":\n  - MATCH,PROXY\n'],
  ["a %YAML 1.1 directive", "%YAML 1.1\n---\nrules:\n  - yes\n  - MATCH,PROXY\n"],
  ["a control character", "rules:\n  - DOMAIN,a\u0001,DIRECT\n"],
  ["a lone CR", "rules:\r  - MATCH,PROXY\r"],
  ["rules: inside a quoted scalar", 'x: "a\nrules:\n- MATCH,PROXY"\n'],
  ["rules: inside a block scalar", "x: |\n  a\n rules:\n  - MATCH,PROXY\n"],
  ["a document that is a list", "- rules:\n  - MATCH,PROXY\n"],
  ["no rules key", PROVIDERS],
  ["two documents", "rules:\n  - MATCH,PROXY\n---\nrules:\n  - MATCH,DIRECT\n"],
  ["the rest not YAML", "rules:\n  - MATCH,PROXY\nother: [\n"],
  ["not YAML", "rules:\n  - MATCH,PROXY\n: : :\n"],
];

Deno.test("YAML list: the line reader reads the common shapes and gives what the parser gives", () => {
  for (const [label, text] of READ) {
    assert(parseYamlList(text, "rules") !== null, `${label}: read line by line`);
    sameAsYaml(text, label);
  }
  // Spot checks that the comparison compares something.
  assert(sameAsYaml(READ[4]![1], "").includes('"DOMAIN-KEYWORD,c#d,DIRECT"'));
  assert(sameAsYaml(READ[5]![1], "").includes(`"DOMAIN,it's,DIRECT"`));
  assert(sameAsYaml(READ[11]![1], "").includes("f: line 4:"), sameAsYaml(READ[11]![1], ""));
});

Deno.test("YAML list: other shapes go to the parser, with its result or its error", () => {
  for (const [label, text] of PARSER) {
    assertEquals(parseYamlList(text, "rules"), null, label);
    sameAsYaml(text, label);
  }
});

Deno.test("YAML list: 2,000 random files give the same with the reader as with the parser", () => {
  // A fixed seed: a failure repeats.
  let seed = 26;
  const random = (n: number) => {
    seed = (seed * 1103515245 + 12345) % 2147483648;
    return seed % n;
  };
  const pick = <T>(list: readonly T[]) => list[random(list.length)]!;
  const values = [
    "DOMAIN,a.com,DIRECT",
    "DOMAIN-SUFFIX,b.cn,DIRECT",
    "IP-CIDR,10.0.0.0/8,DIRECT,no-resolve",
    "MATCH,PROXY",
    "RULE-SET,ads,REJECT",
    "DOMAIN-KEYWORD,x#y,REJECT",
    "NOPE,1,DIRECT",
    "1.5",
    "~",
    "a: b",
    "[x]",
    "- x",
  ];
  const items = [
    (v: string) => v,
    (v: string) => `'${v.replaceAll("'", "''")}'`,
    (v: string) => `"${v}"`,
    (v: string) => `${v} # note`,
    (v: string) => `'${v}'#bad`,
    (v: string) => `${v}\t`,
  ];
  const lines = [
    () => `${pick(["", " ", "  ", "    "])}- ${pick(items)(pick(values))}`,
    () => `  - ${pick(items)(pick(values))}`,
    () => "",
    () => pick(["# c", "  # c", "\t# c", "    more"]),
  ];
  let read = 0;
  for (let n = 0; n < 2000; n++) {
    const body = Array.from({ length: 1 + random(6) }, () => pick(lines)());
    const before = random(3) === 0 ? PROVIDERS : "";
    const after = random(3) === 0 ? "other: 1\n" : "";
    const eol = random(4) === 0 ? "\r\n" : "\n";
    const text = (random(8) === 0 ? "\uFEFF" : "") +
      [before + "rules:", ...body].join(eol) + eol + after;
    if (parseYamlList(text, "rules") !== null) read++;
    sameAsYaml(text, JSON.stringify(text));
  }
  assert(read > 300, `${read} of 2000 read line by line`);
});
