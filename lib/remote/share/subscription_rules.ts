/**
 * The client rules (`serve --client-rules`) in each app's own terms: mihomo's `rules:` with
 * inline `rule-providers`, and sing-box's `route.rules` with inline rule-sets (sing-box 1.11
 * or later: rule actions). What one app cannot read is left out of its profile, and
 * {@linkcode clientRulesGaps} says what, once, when the server starts.
 */
import type { ClientProvider, ClientRules } from "../../rules/client_rules.ts";
import type { Condition, PortRange, Rule } from "../../rules/rule.ts";

/** mihomo's rules and `rule-providers:` for a profile whose proxy group is `group`. */
export interface ClashRules {
  rules: string[];
  providers: Record<string, Record<string, unknown>>;
}

/** sing-box's `route.rules` and `route.rule_set` for a profile whose proxy is `proxyTag`. */
export interface SingBoxRoute {
  rules: Record<string, unknown>[];
  rule_set: Record<string, unknown>[];
}

/** sing-box's own country lists (`geoip-cn.srs`), the rule-sets its docs point to for GeoIP. */
const SING_GEOIP = "https://raw.githubusercontent.com/SagerNet/sing-geoip/rule-set";

/** Whether mihomo can read a provider: inline ones, and URLs of its own formats. */
function clashReads(p: ClientProvider): boolean {
  return p.spec.type !== "http" || p.spec.format !== "json";
}

/** Whether sing-box can read a provider: inline ones, and URLs of its own source format. */
function singBoxReads(p: ClientProvider): boolean {
  return p.spec.type !== "http" || p.spec.format === "json";
}

/**
 * What each app's profile leaves out of these client rules, in words for the server's log:
 * providers by URL in the other app's format, GeoIP inside a provider for sing-box.
 *
 * @example for (const gap of clientRulesGaps(rules)) console.log(`client rules: ${gap}`);
 */
export function clientRulesGaps(rules: ClientRules): string[] {
  const gaps: string[] = [];
  for (const p of rules.providers) {
    const name = `rule-provider "${p.spec.name}"`;
    if (!clashReads(p)) {
      gaps.push(
        `${name} (a sing-box rule-set by URL) and its RULE-SET rules are left out of Clash profiles`,
      );
    }
    if (!singBoxReads(p)) {
      gaps.push(
        `${name} (a mihomo list by URL) and its RULE-SET rules are left out of sing-box profiles`,
      );
    }
    if (p.conditions.some(hasCountry)) {
      gaps.push(
        `${name}: its GEOIP entries are left out of sing-box profiles (no GeoIP in rule-sets)`,
      );
    }
  }
  return gaps;
}

function hasCountry(c: Condition): boolean {
  return (c.type === "GEOIP" && c.value !== "LAN") ||
    (c.type === "AND" && c.value.some((any) => any.some(hasCountry)));
}

const escapeRegex = (name: string) => name.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");

const ports = (ranges: PortRange[]) =>
  ranges.map((r) => r.first === r.last ? `${r.first}` : `${r.first}-${r.last}`).join("/");

/** A condition as a mihomo classical line (no action); logical rules for sing-box's ANDs. */
function clashCondition(c: Condition): string {
  switch (c.type) {
    case "DOMAIN":
    case "DOMAIN-SUFFIX":
    case "DOMAIN-KEYWORD":
    case "GEOIP":
    case "RULE-SET":
      return `${c.type},${c.value}`;
    case "DOMAIN-REGEX":
      return `DOMAIN-REGEX,${c.value.source}`;
    case "DOMAIN-BELOW":
      return `DOMAIN-REGEX,^.+\\.${escapeRegex(c.value)}$`;
    case "DOMAIN-WILDCARD":
      return `DOMAIN-REGEX,^[^.]+\\.${escapeRegex(c.value)}$`;
    case "IP-CIDR":
    case "IP-CIDR6":
      return `${c.type},${c.value.text}`;
    case "DST-PORT":
      return `DST-PORT,${ports(c.value)}`;
    case "NETWORK":
      return `NETWORK,${c.value}`;
    case "MATCH":
      return "MATCH";
    case "AND": {
      const group = (any: Condition[]) =>
        any.length === 1
          ? clashCondition(any[0]!)
          : `OR,(${any.map((x) => `(${clashCondition(x)})`).join(",")})`;
      const all = c.value.length === 1
        ? group(c.value[0]!)
        : `AND,(${c.value.map((any) => `(${group(any)})`).join(",")})`;
      return c.invert ? `NOT,((${all}))` : all;
    }
  }
}

/** An entry of a `domain` or `ipcidr` provider as mihomo writes it. */
function clashEntry(c: Condition): string {
  switch (c.type) {
    case "DOMAIN":
      return c.value;
    case "DOMAIN-SUFFIX":
      return `+.${c.value}`;
    case "DOMAIN-BELOW":
      return `.${c.value}`;
    case "DOMAIN-WILDCARD":
      return `*.${c.value}`;
    case "IP-CIDR":
    case "IP-CIDR6":
      return c.value.text;
    default:
      return clashCondition(c);
  }
}

const TARGET = { DIRECT: "DIRECT", REJECT: "REJECT" } as const;

/**
 * The client rules as mihomo reads them, with `PROXY` as the profile's group `group`; a
 * `MATCH,group` ends them when they do not end with a `MATCH` (no rule matching is `PROXY`
 * here, `DIRECT` in mihomo).
 *
 * @example const { rules, providers } = clashRules(clientRules, "SwiftProxy");
 */
export function clashRules(rules: ClientRules, group: string): ClashRules {
  const providers: Record<string, Record<string, unknown>> = {};
  const readable = new Set<string>();
  for (const p of rules.providers) {
    if (!clashReads(p)) continue;
    readable.add(p.spec.name);
    const { spec } = p;
    if (spec.type === "http") {
      providers[spec.name] = {
        type: "http",
        behavior: spec.behavior,
        format: spec.format,
        url: spec.url,
        path: `./rules/${spec.name.replace(/[^A-Za-z0-9_-]/g, "_")}.${
          spec.format === "text" ? "txt" : "yaml"
        }`,
        ...(spec.interval > 0 ? { interval: spec.interval } : {}),
      };
      continue;
    }
    // A sing-box source's rules are ANDs: classical lines in mihomo.
    const behavior = spec.format === "json" ? "classical" : spec.behavior;
    providers[spec.name] = {
      type: "inline",
      behavior,
      payload: p.conditions.map(behavior === "classical" ? clashCondition : clashEntry),
    };
  }
  const lines: string[] = [];
  for (const rule of rules.rules) {
    if (rule.type === "RULE-SET" && !readable.has(rule.value)) continue;
    const target = rule.action === "PROXY" ? group : TARGET[rule.action];
    const noResolve = "noResolve" in rule && rule.noResolve ? ",no-resolve" : "";
    lines.push(
      rule.type === "MATCH" ? `MATCH,${target}` : `${clashCondition(rule)},${target}${noResolve}`,
    );
  }
  if (lines.at(-1)?.startsWith("MATCH,") !== true) lines.push(`MATCH,${group}`);
  return { rules: lines, providers };
}

/** A condition as sing-box headless-rule fields; null for a country (no GeoIP in rule-sets). */
function singBoxFields(c: Condition): Record<string, unknown> | null {
  switch (c.type) {
    case "DOMAIN":
      return { domain: [c.value] };
    case "DOMAIN-SUFFIX":
      return { domain_suffix: [c.value] };
    case "DOMAIN-BELOW":
      return { domain_suffix: [`.${c.value}`] };
    case "DOMAIN-KEYWORD":
      return { domain_keyword: [c.value] };
    case "DOMAIN-REGEX":
      return { domain_regex: [c.value.source] };
    case "DOMAIN-WILDCARD":
      return { domain_regex: [`^[^.]+\\.${escapeRegex(c.value)}$`] };
    case "IP-CIDR":
    case "IP-CIDR6":
      return { ip_cidr: [c.value.text] };
    case "GEOIP":
      return c.value === "LAN" ? { ip_is_private: true } : null;
    case "DST-PORT": {
      const single = c.value.filter((r) => r.first === r.last).map((r) => r.first);
      const ranges = c.value.filter((r) => r.first !== r.last).map((r) => `${r.first}:${r.last}`);
      return {
        ...(single.length ? { port: single } : {}),
        ...(ranges.length ? { port_range: ranges } : {}),
      };
    }
    case "NETWORK":
      return { network: [c.value] };
    case "AND": {
      // Each group is alternatives of one kind (names, addresses, ports, networks): one
      // default rule whose fields sing-box ORs; the groups must all match.
      const groups = c.value.map((any) => merge(any.map(singBoxFields)));
      if (groups.some((g) => g === null)) return null;
      if (groups.length === 1) return { ...groups[0], ...(c.invert ? { invert: true } : {}) };
      return { type: "logical", mode: "and", rules: groups, ...(c.invert ? { invert: true } : {}) };
    }
    default:
      return null;
  }
}

/** Alternatives as one default rule: the lists of each field joined; null if any is null. */
function merge(parts: (Record<string, unknown> | null)[]): Record<string, unknown> | null {
  const out: Record<string, unknown> = {};
  for (const part of parts) {
    if (part === null) return null;
    for (const [key, value] of Object.entries(part)) {
      out[key] = Array.isArray(value) ? [...(out[key] as unknown[] ?? []), ...value] : value;
    }
  }
  return out;
}

/** Whether a rule needs the destination's address (sing-box resolves a name for it). */
function needsAddress(rule: Rule, providers: Map<string, ClientProvider>): boolean {
  if (rule.type === "IP-CIDR" || rule.type === "IP-CIDR6" || rule.type === "GEOIP") {
    return !rule.noResolve;
  }
  if (rule.type !== "RULE-SET" || rule.noResolve) return false;
  const address = (c: Condition): boolean =>
    c.type === "IP-CIDR" || c.type === "IP-CIDR6" || c.type === "GEOIP" ||
    (c.type === "AND" && c.value.some((any) => any.some(address)));
  const p = providers.get(rule.value);
  return p !== undefined && (p.spec.behavior === "ipcidr" || p.conditions.some(address));
}

/**
 * The client rules as sing-box 1.11 or later reads them: `sniff` first (so a TUN's
 * connections have their names), one `resolve` before the first rule that needs an address
 * of a name (the local's and mihomo's order), `PROXY` to `proxyTag`, `DIRECT` to `direct`,
 * `REJECT` as the `reject` action. Providers become inline rule-sets; `GEOIP,CC` refers to
 * sing-box's own `geoip-cc` list, fetched by the app through the proxy.
 *
 * @example const route = singBoxRoute(clientRules, "alice@vpn.example.org");
 */
export function singBoxRoute(rules: ClientRules, proxyTag: string): SingBoxRoute {
  const byName = new Map(rules.providers.map((p) => [p.spec.name, p]));
  const ruleSet: Record<string, unknown>[] = [];
  const readable = new Set<string>();
  for (const p of rules.providers) {
    if (!singBoxReads(p)) continue;
    readable.add(p.spec.name);
    if (p.spec.type === "http") {
      ruleSet.push({
        type: "remote",
        tag: p.spec.name,
        format: "source",
        url: p.spec.url,
        download_detour: proxyTag,
        ...(p.spec.interval > 0 ? { update_interval: `${p.spec.interval}s` } : {}),
      });
      continue;
    }
    const headless = p.conditions.map(singBoxFields).filter((r) => r !== null);
    ruleSet.push({ type: "inline", tag: p.spec.name, rules: headless });
  }
  const countries = new Set<string>();
  const out: Record<string, unknown>[] = [{ action: "sniff" }];
  let resolved = false;
  for (const rule of rules.rules) {
    let fields: Record<string, unknown> | null;
    if (rule.type === "RULE-SET") {
      if (!readable.has(rule.value)) continue;
      fields = { rule_set: [rule.value] };
    } else if (rule.type === "GEOIP" && rule.value !== "LAN") {
      const tag = `geoip-${rule.value.toLowerCase()}`;
      countries.add(tag);
      fields = { rule_set: [tag] };
    } else if (rule.type === "MATCH") {
      fields = { network: ["tcp", "udp"] };
    } else fields = singBoxFields(rule);
    if (!resolved && needsAddress(rule, byName)) {
      out.push({ action: "resolve" });
      resolved = true;
    }
    const action = rule.action === "REJECT"
      ? { action: "reject" }
      : { outbound: rule.action === "DIRECT" ? "direct" : proxyTag };
    out.push({ ...fields, ...action });
  }
  for (const tag of countries) {
    if (readable.has(tag)) continue; // the admin's own provider of that name
    ruleSet.push({
      type: "remote",
      tag,
      format: "binary",
      url: `${SING_GEOIP}/${tag}.srs`,
      download_detour: proxyTag,
    });
  }
  return { rules: out, rule_set: ruleSet };
}
