/**
 * The payload of a rule-set provider, parsed into conditions: mihomo's rule-provider files
 * (`behavior` domain, ipcidr or classical; `format` yaml or text) and sing-box's rule-set
 * source JSON (versions 1–3).
 */
import { isMap, isScalar, isSeq, LineCounter, type Node, parseDocument, type YAMLMap } from "yaml";
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

/**
 * `payload:`, a list of strings.
 *
 * @param viaYaml skip the line reader ({@linkcode parseYamlList}) and build the YAML parser's
 * tree, as for a shape the reader does not take (tests compare the two)
 */
export function yamlEntries(text: string, viaYaml = false): Entry[] {
  const fast = viaYaml ? null : parseYamlList(text, "payload");
  // An empty payload: is null to YAML, and refused: the parser's message.
  if (fast && fast.entries.length > 0) {
    return fast.entries.map(({ value, line }) => ({ value: value.trim(), line }));
  }
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

/** A YAML document whose list under one top-level key was read line by line. */
export interface YamlList {
  /** The rest of the document (without the list's lines), parsed. */
  root: Node | null;
  line: (node: Node) => number;
  /** The list's strings as written (quotes taken off, comments left out), with their lines. */
  entries: Entry[];
}

/**
 * A YAML document with a long list of strings under `key` (`rules:`, `payload:`), read
 * without the YAML parser's tree of 100,000 nodes: the list's lines are read one by one and
 * left out of the text the parser then gets (the rest: providers, other keys). Only the
 * common shape is read here — the key at column 0, then `- ` items at one indent, each a plain
 * scalar that YAML reads as a string, or a one-line quoted one without escapes, with comments
 * and blank lines between — and null for anything else (a flow list, anchors, tags, a scalar
 * over several lines, a tab in the indent …, or a rest the parser refuses): the caller then
 * parses the whole text as YAML, so both give the same result or the same error.
 */
export function parseYamlList(text: string, key: string): YamlList | null {
  // A lone CR breaks lines for YAML, not here; a directive (%YAML 1.1) changes what a plain
  // scalar is; YAML refuses control characters (which this looks for).
  // deno-lint-ignore no-control-regex
  if (/\r(?!\n)|^%|[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]/m.test(text)) return null;
  const keyLine = new RegExp(`^\uFEFF?${key}:(?:[ \t]+(?:#.*)?)?$`);
  let at = -1, end = -1, lineNumber = 0, itemIndent = -1;
  const entries: Entry[] = [];
  for (let start = 0; start < text.length;) {
    let eol = text.indexOf("\n", start);
    if (eol < 0) eol = text.length;
    lineNumber++;
    const line = text.slice(start, text[eol - 1] === "\r" ? eol - 1 : eol);
    if (at < 0) {
      if (keyLine.test(line)) at = start;
      else if (line.startsWith(`${key}:`) || line.startsWith(`\uFEFF${key}:`)) return null;
    } else if (end < 0) {
      const item = listLine(line, itemIndent);
      if (item === null) return null;
      if (item === "end") end = start;
      else if (item !== "skip") {
        itemIndent = item.indent;
        entries.push({ value: item.value, line: lineNumber });
      }
    } else if (keyLine.test(line)) return null; // the key twice: the parser's error
    start = eol + 1;
  }
  if (at < 0) return null;
  // The key's line is left out with the list, so no key of the rest is left without a value.
  const from = at;
  const to = end < 0 ? text.length : end;
  let left = 0;
  for (let i = text.indexOf("\n", from); i >= 0 && i < to; i = text.indexOf("\n", i + 1)) left++;
  // Left out of the rest, not left blank: the parser would walk each of the empty lines.
  const rest = text.slice(0, from) + text.slice(to);
  let parsed;
  try {
    parsed = parseYaml(rest);
  } catch {
    return null;
  }
  const { root } = parsed;
  const line = (node: Node) => {
    const n = parsed.line(node);
    return n > 0 && node.range && node.range[0] >= from ? n + left : n;
  };
  if (root !== null) {
    if (!isMap(root)) return null;
    for (const pair of (root as YAMLMap).items) {
      const k = pair.key as Node | null, v = pair.value as Node | null;
      if (isScalar(k) && k.value === key) return null;
      // A node of the rest over where the list was (a quoted scalar or a flow collection on
      // several lines): the list's lines were part of it.
      const first = k?.range?.[0] ?? v?.range?.[0] ?? from;
      const last = v?.range?.[1] ?? k?.range?.[1] ?? from;
      if (first < from && last > from) return null;
    }
  }
  return { root, line, entries };
}

/** A scalar YAML's core schema reads as other than a string (null, a boolean, a number). */
const NOT_A_STRING =
  /^(?:~|null|true|false|[-+]?\.inf|\.nan|0o[0-7]+|0x[0-9a-f]+|[-+]?(?:\.[0-9]+|[0-9]+(?:\.[0-9]*)?)(?:e[-+]?[0-9]+)?)$/i;

/** After a quoted scalar: nothing, or a comment after white space. */
const TAIL = /^(?:[ \t]+(?:#.*)?)?$/;

/**
 * One line of a block list: an item (its indent and string), "skip" (blank, a comment), "end"
 * (a line at column 0 that is no item), or null when the line needs the YAML parser.
 */
function listLine(
  line: string,
  itemIndent: number,
): { indent: number; value: string } | "skip" | "end" | null {
  let indent = 0;
  while (line.charCodeAt(indent) === 32) indent++;
  if (indent === line.length || line[indent] === "#") return "skip";
  if (line[indent] === "\t") return null;
  const item = line[indent] === "-" && line[indent + 1] === " ";
  if (indent === 0 && !(item && itemIndent <= 0)) return line === "-" ? null : "end";
  if (!item || (itemIndent >= 0 && indent !== itemIndent)) return null;
  let i = indent + 2;
  while (line[i] === " ") i++;
  const first = line[i];
  if (first === "'" || first === '"') {
    let close = i + 1, value = "";
    for (;;) {
      const next = line.indexOf(first, close);
      if (next < 0) return null;
      value += line.slice(close, next);
      if (first === "'" && line[next + 1] === "'") {
        value += "'";
        close = next + 2;
      } else {
        close = next;
        break;
      }
    }
    if (first === '"' && value.includes("\\")) return null;
    return TAIL.test(line.slice(close + 1)) ? { indent, value } : null;
  }
  if (first === undefined || "-?:,[]{}#&*!|>%@`\t".includes(first)) return null;
  // Plain: up to a '#' after white space (a comment), white space at the end taken off. By
  // index, not by regular expressions: this runs for each of 100,000 lines.
  let end = line.indexOf("#", i);
  while (end >= 0 && line[end - 1] !== " " && line[end - 1] !== "\t") {
    end = line.indexOf("#", end + 1);
  }
  if (end < 0) end = line.length;
  while (line[end - 1] === " " || line[end - 1] === "\t") end--;
  for (
    let colon = line.indexOf(":", i);
    colon >= 0 && colon < end;
    colon = line.indexOf(":", colon + 1)
  ) {
    if (colon + 1 === end || line[colon + 1] === " " || line[colon + 1] === "\t") return null; // a mapping
  }
  const value = line.slice(i, end);
  return "-+.0123456789~nNtTfF".includes(first) && NOT_A_STRING.test(value)
    ? null
    : { indent, value };
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
