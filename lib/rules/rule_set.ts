/**
 * The payload of a rule-set provider, parsed into conditions: mihomo's rule-provider files
 * (`behavior` domain, ipcidr or classical; `format` yaml or text) and sing-box's rule-set
 * source JSON (versions 1–3).
 */
import { isMap, isSeq, LineCounter, type Node, parseDocument, type YAMLMap } from "yaml";
import { type Condition, parseCondition, parsePorts, RulesError } from "./rule.ts";

/** How a mihomo provider's entries are read. */
export type Behavior = "domain" | "ipcidr" | "classical";

/** How a provider's file is written: mihomo's YAML or text, or sing-box's source JSON. */
export type RuleSetFormat = "yaml" | "text" | "json";

/** A parsed rule-set: its conditions, any of which matching makes it match. */
export interface RuleSetPayload {
  conditions: Condition[];
  /** True when a condition needs the GeoIP database. */
  usesGeoIp: boolean;
}

/**
 * Parses a provider's file.
 *
 * @param source names the provider in error messages
 * @throws {RulesError} with the line and the reason for the first entry that is not valid
 * @example parseRuleSet("+.google.com\n10.0.0.0/8", "text", "classical", "lan") // throws: line 1
 */
export function parseRuleSet(
  text: string,
  format: RuleSetFormat,
  behavior: Behavior,
  source: string,
): RuleSetPayload {
  try {
    const entries = format === "text" ? textEntries(text) : undefined;
    const conditions = format === "json"
      ? singBoxConditions(text)
      : (entries ?? yamlEntries(text)).map(({ value, line }) => entry(value, line, behavior));
    return { conditions, usesGeoIp: conditions.some(usesGeoIp) };
  } catch (e) {
    if (e instanceof RulesError && !e.source) throw new RulesError(e.line, e.reason, source);
    throw e;
  }
}

function usesGeoIp(c: Condition): boolean {
  return (c.type === "GEOIP" && c.value !== "LAN") ||
    (c.type === "AND" && c.value.some((any) => any.some(usesGeoIp)));
}

/** An entry of a rule-set as written, with its line. */
export interface Entry {
  value: string;
  line: number;
}

/** One entry a line, `#` comments and blank lines skipped. */
export function textEntries(text: string): Entry[] {
  const entries: Entry[] = [];
  text.split("\n").forEach((raw, i) => {
    const value = raw.trim();
    if (value !== "" && !value.startsWith("#")) entries.push({ value, line: i + 1 });
  });
  return entries;
}

/** A YAML document, with `lines` to turn a node into its line number. */
export function parseYaml(text: string): { root: Node | null; line: (node: Node) => number } {
  const lines = new LineCounter();
  const doc = parseDocument(text, { lineCounter: lines, uniqueKeys: true });
  const error = doc.errors[0];
  if (error) {
    throw new RulesError(error.linePos?.[0].line ?? 0, error.message.split("\n")[0]!);
  }
  return {
    root: doc.contents as Node | null,
    line: (node) => (node.range ? lines.linePos(node.range[0]).line : 0),
  };
}

/** `payload:`, a list of strings. */
export function yamlEntries(text: string): Entry[] {
  const { root, line } = parseYaml(text);
  const payload = isMap(root) ? (root as YAMLMap).get("payload", true) as Node | undefined : null;
  if (!isSeq(payload)) throw new RulesError(1, "expected a YAML document with a payload: list");
  return payload.items.map((item) => {
    const value = (item as Node & { value?: unknown }).value;
    if (typeof value !== "string" && typeof value !== "number") {
      throw new RulesError(line(item as Node), "expected a string in payload");
    }
    return { value: String(value).trim(), line: line(item as Node) };
  });
}

const CLASSICAL = new Set([
  "DOMAIN",
  "DOMAIN-SUFFIX",
  "DOMAIN-KEYWORD",
  "DOMAIN-REGEX",
  "IP-CIDR",
  "IP-CIDR6",
  "GEOIP",
  "DST-PORT",
  "NETWORK",
]);

/** An entry of a mihomo rule-set as its `behavior` reads it. */
function entry(value: string, line: number, behavior: Behavior): Condition {
  const fail = (reason: string): never => {
    throw new RulesError(line, `${reason} in "${value}"`);
  };
  if (behavior === "ipcidr") {
    return cidrEntry(value, fail);
  }
  if (behavior === "domain") return domainEntry(value, fail);
  const [type = "", rest, ...options] = value.split(",").map((p) => p.trim());
  const kind = type.toUpperCase();
  if (!CLASSICAL.has(kind)) fail(`"${type}" is not a rule type a classical rule-set takes`);
  const noResolve = options.length === 1 && options[0] === "no-resolve";
  if (options.length > (noResolve ? 1 : 0)) fail(`unexpected "${options.join(",")}"`);
  return parseCondition(kind, rest ?? "", fail, noResolve);
}

/** A range of either family, or a single address (as its /32 or /128). */
function cidrEntry(value: string, fail: (reason: string) => never): Condition {
  const type = value.includes(":") ? "IP-CIDR6" : "IP-CIDR";
  const range = value.includes("/") ? value : `${value}/${type === "IP-CIDR" ? 32 : 128}`;
  return parseCondition(type, range, fail);
}

/** `+.name` name and below, `.name` below only, `*.name` one label below, `name` exactly. */
function domainEntry(value: string, fail: (reason: string) => never): Condition {
  const name = value.toLowerCase().replace(/\.$/, "");
  const [type, rest] = name.startsWith("+.")
    ? ["DOMAIN-SUFFIX" as const, name.slice(2)]
    : name.startsWith("*.")
    ? ["DOMAIN-WILDCARD" as const, name.slice(2)]
    : name.startsWith(".")
    ? ["DOMAIN-BELOW" as const, name.slice(1)]
    : ["DOMAIN" as const, name];
  if (!/^[a-z0-9_-]+(\.[a-z0-9_-]+)*$/.test(rest)) {
    fail("expected a name such as example.com, +.example.com, .example.com or *.example.com");
  }
  return { type, value: rest };
}

/** The fields of a sing-box headless rule that are read, each into one kind of condition. */
const SING_BOX_FIELDS = new Set([
  "domain",
  "domain_suffix",
  "domain_keyword",
  "domain_regex",
  "ip_cidr",
  "ip_is_private",
  "port",
  "port_range",
  "network",
  "invert",
]);

/**
 * A sing-box rule-set source: `{"version": 1–3, "rules": [headless rules]}`. Within a rule,
 * the destination fields (domain, suffix, keyword, regex, ip_cidr, ip_is_private) are one set
 * of alternatives, the ports another, the networks a third; the sets present must all match:
 * sing-box's own `(domain || … || ip_cidr || ip_is_private) && (port || port_range) && …`.
 */
function singBoxConditions(text: string): Condition[] {
  const { root, line } = parseYaml(text);
  const doc = (root as (Node & { toJSON(): unknown }) | null)?.toJSON() as Record<string, unknown>;
  if (!isMap(root) || typeof doc !== "object") throw new RulesError(1, "expected a JSON object");
  const map = root as YAMLMap;
  const at = (key: string) => line(map.get(key, true) as Node ?? root);
  if (![1, 2, 3].includes(doc.version as number)) {
    throw new RulesError(
      at("version"),
      `expected "version": 1, 2 or 3, got ${JSON.stringify(doc.version)}`,
    );
  }
  const rulesNode = map.get("rules", true) as Node | undefined;
  if (!isSeq(rulesNode)) throw new RulesError(at("rules"), `expected "rules": [ ... ]`);
  return rulesNode.items.map((item) => singBoxRule(item as Node, line));
}

function singBoxRule(node: Node, line: (node: Node) => number): Condition {
  const where = line(node);
  if (!isMap(node)) throw new RulesError(where, "expected a rule object");
  const rule = (node as YAMLMap).toJSON() as Record<string, unknown>;
  const fail = (reason: string): never => {
    throw new RulesError(where, reason);
  };
  if (rule.type === "logical") fail(`logical rules are not supported`);
  for (const field of Object.keys(rule)) {
    if (!SING_BOX_FIELDS.has(field)) fail(`field "${field}" is not supported`);
  }
  const list = (field: string): string[] => {
    const value = rule[field];
    if (value === undefined) return [];
    const items = Array.isArray(value) ? value : [value];
    if (!items.every((v) => typeof v === "string" || typeof v === "number")) {
      fail(`"${field}" takes a string or a list of strings`);
    }
    return items.map(String);
  };
  const names: Condition[] = [
    ...list("domain").map((v) => parseCondition("DOMAIN", v, fail)),
    ...list("domain_suffix").map((v): Condition =>
      v.startsWith(".")
        ? { type: "DOMAIN-BELOW", value: v.slice(1).toLowerCase() }
        : parseCondition("DOMAIN-SUFFIX", v, fail)
    ),
    ...list("domain_keyword").map((v) => parseCondition("DOMAIN-KEYWORD", v, fail)),
    ...list("domain_regex").map((v) => parseCondition("DOMAIN-REGEX", v, fail)),
  ];
  const addresses = list("ip_cidr").map((v) => cidrEntry(v, fail));
  if (rule.ip_is_private === true) {
    addresses.push({ type: "GEOIP", value: "LAN", noResolve: false });
  }
  const ports = [
    ...list("port").map((p) => parsePorts(p, fail)[0]!),
    ...list("port_range").map((r) => {
      const [first, last] = r.split(":");
      return parsePorts(`${first || 0}-${last || 65535}`, fail)[0]!;
    }),
  ];
  const networks = list("network").map((n) => parseCondition("NETWORK", n, fail));
  const groups = [[...names, ...addresses], networks].filter((g) => g.length > 0);
  if (ports.length) groups.push([{ type: "DST-PORT", value: ports }]);
  if (groups.length === 0) fail("a rule needs at least one of domain, ip_cidr, port, network");
  return { type: "AND", value: groups, invert: rule.invert === true };
}
