/**
 * A rules file as mihomo writes it: `rules:` (a list of `TYPE,VALUE,ACTION`) and
 * `rule-providers:` (named rule-sets, from a file, a URL or inline). Other top-level keys of a
 * mihomo config (proxies, dns, …) are ignored, so a whole config can be given.
 */
import { isMap, isScalar, isSeq, type Node, type Pair, type YAMLMap } from "yaml";
import { parseRule, type Rule, RulesError } from "./rule.ts";
import { type Behavior, parseYaml, parseYamlList, type RuleSetFormat } from "./rule_set.ts";

/** A `rule-providers:` entry. */
export interface ProviderSpec {
  name: string;
  /** `file`: read from `path`; `http`: fetched from `url`, kept at `path`; `inline`: `payload`. */
  type: "file" | "http" | "inline";
  behavior: Behavior;
  format: RuleSetFormat;
  path?: string;
  url?: string;
  /** Seconds between refreshes of an `http` provider; 0: never. */
  interval: number;
  /** An `inline` provider's entries, one a line. */
  payload?: string;
  /** The line of the entry, for messages. */
  line: number;
}

/** A parsed rules file. */
export interface RulesFile {
  rules: Rule[];
  providers: Map<string, ProviderSpec>;
}

const PROVIDER_KEYS = new Set([
  "type",
  "behavior",
  "format",
  "path",
  "url",
  "interval",
  "payload",
  // mihomo's, which have no meaning here: the fetch goes through the tunnel, whole.
  "proxy",
  "size-limit",
  "header",
]);

/**
 * Parses a rules file's text.
 *
 * @param source names the file in error messages
 * @param viaYaml skip the line reader of the `rules:` list ({@linkcode parseYamlList}) and
 * build the YAML parser's tree for all of it, as for a shape the reader does not take (tests
 * compare the two)
 * @throws {RulesError} with the line and the reason: YAML syntax, an unknown rule type or
 * action, a bad value, a `RULE-SET` with no provider of that name, a provider without a path
 * @example parseRulesFile("rules:\n  - DOMAIN-SUFFIX,cn,DIRECT\n  - MATCH,PROXY\n", "rules.yaml")
 */
export function parseRulesFile(text: string, source: string, viaYaml = false): RulesFile {
  try {
    return parse(text, viaYaml);
  } catch (e) {
    if (e instanceof RulesError && !e.source) throw new RulesError(e.line, e.reason, source);
    throw e;
  }
}

function parse(text: string, viaYaml: boolean): RulesFile {
  // A long rules: list is read line by line; the YAML parser's tree of it costs 30 times more.
  const fast = viaYaml ? null : parseYamlList(text, "rules");
  const { root, line } = fast ?? parseYaml(text);
  if (root === null && !fast) return { rules: [], providers: new Map() };
  if (root !== null && !isMap(root)) {
    throw new RulesError(1, "expected a YAML mapping with rules: and rule-providers:");
  }
  const map = root as YAMLMap | null;
  const providers = new Map<string, ProviderSpec>();
  const providersNode = map?.get("rule-providers", true) as Node | undefined;
  if (providersNode !== undefined && !(isScalar(providersNode) && providersNode.value === null)) {
    if (!isMap(providersNode)) {
      throw new RulesError(line(providersNode), "rule-providers: is a mapping of names");
    }
    for (const pair of (providersNode as YAMLMap).items as Pair<Node, Node>[]) {
      const spec = provider(pair, line);
      providers.set(spec.name, spec);
    }
  }
  const rules: Rule[] = [];
  const add = (value: string, at: number) => {
    const rule = parseRule(value.trim(), at);
    if (rule.type === "RULE-SET" && !providers.has(rule.value)) {
      throw new RulesError(rule.line, `no rule-provider named "${rule.value}" in "${rule.text}"`);
    }
    rules.push(rule);
  };
  if (fast) {
    for (const entry of fast.entries) add(entry.value, entry.line);
    return { rules, providers };
  }
  const rulesNode = map?.get("rules", true) as Node | undefined;
  if (rulesNode !== undefined && !(isScalar(rulesNode) && rulesNode.value === null)) {
    if (!isSeq(rulesNode)) throw new RulesError(line(rulesNode), "rules: is a list");
    for (const item of rulesNode.items as Node[]) {
      const value = isScalar(item) ? item.value : undefined;
      if (typeof value !== "string") {
        throw new RulesError(line(item), "expected a rule such as MATCH,PROXY");
      }
      add(value, line(item));
    }
  }
  return { rules, providers };
}

function provider(pair: Pair<Node, Node>, line: (node: Node) => number): ProviderSpec {
  const name = String(isScalar(pair.key) ? pair.key.value : "");
  const where = pair.key ? line(pair.key) : 0;
  const fail = (reason: string): never => {
    throw new RulesError(where, `rule-provider "${name}": ${reason}`);
  };
  if (!isMap(pair.value)) fail("expected a mapping (type, behavior, path, …)");
  const fields = (pair.value as YAMLMap).toJSON() as Record<string, unknown>;
  for (const key of Object.keys(fields)) if (!PROVIDER_KEYS.has(key)) fail(`unknown key "${key}"`);
  const text = (key: string): string | undefined => {
    const value = fields[key];
    if (value !== undefined && typeof value !== "string") fail(`${key} is a string`);
    return value as string | undefined;
  };
  const type = text("type") ?? "";
  if (type !== "file" && type !== "http" && type !== "inline") {
    fail(`type is file, http or inline, got "${type}"`);
  }
  const behavior = text("behavior") ?? "";
  if (behavior !== "domain" && behavior !== "ipcidr" && behavior !== "classical") {
    fail(`behavior is domain, ipcidr or classical, got "${behavior}"`);
  }
  const path = text("path"), url = text("url");
  if (type === "file" && !path) fail("a file provider needs path");
  if (type === "http" && !url) fail("an http provider needs url");
  if (url !== undefined && !/^https?:\/\//.test(url)) {
    fail(`url is http:// or https://, got "${url}"`);
  }
  const where_ = path ?? url ?? "";
  const format = text("format") ??
    (/\.json$/i.test(where_) ? "json" : /\.(txt|list)$/i.test(where_) ? "text" : "yaml");
  if (format === "mrs") fail(`format mrs (binary) is not supported; use yaml or text`);
  if (format !== "yaml" && format !== "text" && format !== "json") {
    fail(`format is yaml, text or json (a sing-box rule-set source), got "${format}"`);
  }
  const interval = fields.interval ?? 0;
  if (typeof interval !== "number" || !(interval >= 0)) fail("interval is a number of seconds");
  let payload: string | undefined;
  if (type === "inline") {
    if (!Array.isArray(fields.payload)) fail("an inline provider needs a payload: list");
    payload = (fields.payload as unknown[]).map(String).join("\n");
  }
  return {
    name,
    type: type as ProviderSpec["type"],
    behavior: behavior as Behavior,
    format: type === "inline" ? "text" : format as RuleSetFormat,
    ...(path !== undefined ? { path } : {}),
    ...(url !== undefined ? { url } : {}),
    interval: interval as number,
    ...(payload !== undefined ? { payload } : {}),
    line: where,
  };
}

/**
 * The rules of `--direct-country CC`: private and local ranges direct, then the country's
 * addresses (GeoIP); whatever matches neither goes through the server.
 *
 * @throws {RulesError} when `country` is not a two-letter code
 * @example directCountryRules("cn").map((r) => r.text) // ["GEOIP,LAN,DIRECT", "GEOIP,CN,DIRECT"]
 */
export function directCountryRules(country: string): Rule[] {
  if (!/^[A-Za-z]{2}$/.test(country)) {
    throw new RulesError(0, `expected a two-letter country code such as CN, got "${country}"`);
  }
  return [parseRule("GEOIP,LAN,DIRECT", 0), parseRule(`GEOIP,${country.toUpperCase()},DIRECT`, 0)];
}
