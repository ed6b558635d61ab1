/**
 * The rule engine: a rules file compiled once, then one decision per connection (PROXY,
 * DIRECT or REJECT, and the rule that said so). First match wins; a name is matched as a name
 * first, and resolved (once, through the resolver given, cached briefly) only when an IP rule
 * without `no-resolve` is reached.
 */
import { dirname, isAbsolute, join } from "node:path";
import { type GeoIp, loadGeoIp } from "./geoip.ts";
import { compile, type MatchContext, Matcher, NEED_IP, type RuleSetRef } from "./matcher.ts";
import { ipKey } from "./range_table.ts";
import { type Action, normalizeName, type Rule, RulesError } from "./rule.ts";
import { parseRuleSet, type RuleSetPayload } from "./rule_set.ts";
import { parseRulesFile, type ProviderSpec, type RulesFile } from "./rules_file.ts";

/** A connection to decide about. */
export interface Query {
  /** The name the app asked for (SOCKS5 domain, HTTP host); an IP literal here counts as `ip`. */
  host?: string;
  /** The address the app asked for. */
  ip?: string;
  port: number;
  network: "tcp" | "udp";
}

/** What to do with a connection and why. */
export interface Decision {
  action: Action;
  /** The rule as written (`DOMAIN-SUFFIX,cn,DIRECT`), or `(default)` when none matched. */
  rule: string;
  /** The rule's position in `rules:`, -1 when none matched. */
  index: number;
}

/** Addresses of a name (A and AAAA, any order); an empty list when it has none. */
export type Resolve = (name: string) => Promise<string[]>;

/** The answer when no rule matches, or there are none: through the server, as without rules. */
export const DEFAULT_DECISION: Decision = Object.freeze({
  action: "PROXY",
  rule: "(default)",
  index: -1,
});

/** How long a resolved name is kept, and how many. */
const RESOLVED_TTL_MS = 30_000;
const RESOLVED_MAX = 4096;

/** Provider texts: each provider's file content, or null when there is none yet. */
export type ProviderTexts = Map<string, string | null>;

/**
 * Compiled rules. Build with {@linkcode RuleEngine.create} (or {@linkcode loadRules}); ask
 * with {@linkcode RuleEngine.decide}.
 *
 * @example
 * ```ts
 * import { parseRulesFile } from "./rules_file.ts";
 * const engine = await RuleEngine.create(parseRulesFile("rules:\n  - DOMAIN-SUFFIX,cn,DIRECT\n", "r"), new Map());
 * await engine.decide({ host: "www.gov.cn", port: 443, network: "tcp" }); // DIRECT
 * ```
 */
export class RuleEngine {
  #rules: Rule[];
  #matcher: Matcher;
  #sets: Map<string, RuleSetRef>;
  #specs: Map<string, ProviderSpec>;
  #geo: GeoIp | null;
  #resolved = new Map<string, { key: MatchContext["key"]; until: number }>();

  private constructor(
    rules: Rule[],
    matcher: Matcher,
    sets: Map<string, RuleSetRef>,
    specs: Map<string, ProviderSpec>,
    geo: GeoIp | null,
  ) {
    this.#rules = rules;
    this.#matcher = matcher;
    this.#sets = sets;
    this.#specs = specs;
    this.#geo = geo;
  }

  /**
   * Compiles a parsed rules file with its providers' texts (a provider missing from `texts`
   * or null there is empty until {@linkcode updateProvider}). Loads the GeoIP database only
   * if a `GEOIP` rule needs it.
   *
   * @throws {RulesError} for a provider text that is not valid (line and reason)
   */
  static async create(file: RulesFile, texts: ProviderTexts): Promise<RuleEngine> {
    const payloads = new Map<string, RuleSetPayload>();
    for (const [name, spec] of file.providers) {
      payloads.set(name, providerPayload(spec, texts.get(name) ?? null));
    }
    const needsGeo = file.rules.some((r) => r.type === "GEOIP" && r.value !== "LAN") ||
      [...payloads.values()].some((p) => p.usesGeoIp);
    const geo = needsGeo ? await loadGeoIp() : null;
    const sets = new Map<string, RuleSetRef>();
    for (const [name, payload] of payloads) {
      sets.set(name, { name, matcher: compile(payload.conditions, { geo }) });
    }
    const matcher = compile(file.rules, { geo, ruleSets: sets });
    return new RuleEngine(file.rules, matcher, sets, file.providers, geo);
  }

  /** The rules, as parsed. */
  get rules(): readonly Rule[] {
    return this.#rules;
  }

  /** The providers, as parsed. */
  get providers(): ReadonlyMap<string, ProviderSpec> {
    return this.#specs;
  }

  /** The GeoIP database, when a rule needed it. */
  get geoIp(): GeoIp | null {
    return this.#geo;
  }

  /**
   * The decision for a connection. Synchronous unless a name has to be resolved (an IP rule
   * without `no-resolve` reached by a name not resolved in the last 30 s): then a promise. A
   * name that does not resolve, or no `resolve`, matches no IP rule.
   *
   * @example await engine.decide({ host: "example.com", port: 443, network: "tcp" }, resolver)
   */
  decide(query: Query, resolve?: Resolve): Decision | Promise<Decision> {
    const host = query.host ? normalizeName(query.host) : "";
    const literal = host && mayBeAddress(host) ? ipKey(host) : null;
    const given = literal ?? (query.ip ? ipKey(query.ip) : null);
    const name = host && !literal ? host : null;
    const ctx: MatchContext = {
      name,
      key: given,
      resolved: given !== null,
      port: query.port,
      network: query.network,
    };
    const found = this.#matcher.run(ctx);
    if (found !== NEED_IP) return this.#decision(found);
    const from = this.#matcher.pausedAt;
    const cached = this.#resolved.get(name!);
    if (cached && cached.until > performance.now()) return this.#resume(ctx, cached.key, from);
    if (!resolve) return this.#resume(ctx, null, from);
    return resolve(name!).then(
      (addresses) => this.#remember(name!, addresses),
      () => this.#remember(name!, []),
    ).then((key) => this.#resume(ctx, key, from));
  }

  /**
   * Replaces a provider's rule-set with a new text (a refreshed download). The old one stays
   * when the new one is refused.
   *
   * @throws {RulesError} when the text is not valid, or no provider has that name
   */
  async updateProvider(name: string, text: string): Promise<void> {
    const spec = this.#specs.get(name);
    const ref = this.#sets.get(name);
    if (!spec || !ref) throw new RulesError(0, `no rule-provider named "${name}"`);
    const payload = providerPayload(spec, text);
    if (payload.usesGeoIp) this.#geo ??= await loadGeoIp();
    ref.matcher = compile(payload.conditions, { geo: this.#geo });
  }

  #resume(ctx: MatchContext, key: MatchContext["key"], from: number): Decision {
    ctx.key = key;
    ctx.resolved = true;
    return this.#decision(this.#matcher.run(ctx, from));
  }

  #remember(name: string, addresses: string[]): MatchContext["key"] {
    let key = null;
    for (const address of addresses) if ((key = ipKey(address))) break;
    if (this.#resolved.size >= RESOLVED_MAX) {
      this.#resolved.delete(this.#resolved.keys().next().value!);
    }
    this.#resolved.set(name, { key, until: performance.now() + RESOLVED_TTL_MS });
    return key;
  }

  #decision(index: number): Decision {
    const rule = this.#rules[index];
    return rule ? { action: rule.action, rule: rule.text, index } : DEFAULT_DECISION;
  }
}

/** False for most names without parsing them: an address has a colon or ends in a digit. */
function mayBeAddress(host: string): boolean {
  const last = host.charCodeAt(host.length - 1);
  return (last >= 48 && last <= 57) || last === 93 || host.includes(":");
}

function providerPayload(spec: ProviderSpec, text: string | null): RuleSetPayload {
  const body = spec.type === "inline" ? spec.payload ?? "" : text;
  if (body === null) return { conditions: [], usesGeoIp: false };
  return parseRuleSet(body, spec.format, spec.behavior, `rule-provider "${spec.name}"`);
}

/**
 * Where a provider's file is: its `path`, relative to the rules file's folder; an `http`
 * provider without one is kept as `rule-providers/NAME` beside the rules file (with the
 * extension of its format); an inline one has none.
 *
 * @example providerPath(spec, "/etc/swiftproxy/rules.yaml") // "/etc/swiftproxy/ads.yaml"
 */
export function providerPath(spec: ProviderSpec, rulesPath: string): string | null {
  if (!spec.path) {
    if (spec.type !== "http") return null;
    const extension = spec.format === "text" ? "txt" : spec.format;
    return join(dirname(rulesPath), "rule-providers", `${spec.name}.${extension}`);
  }
  return isAbsolute(spec.path) ? spec.path : join(dirname(rulesPath), spec.path);
}

/**
 * Reads a rules file and its providers from disk and compiles them, with `append` after the
 * file's rules (`--direct-country`): a `file` provider's `path` must exist; an `http`
 * provider's kept copy ({@linkcode providerPath}) is used when there is one, else it starts
 * empty and is named in `pending` for the caller to fetch.
 *
 * @throws {RulesError} naming the file, the line and the reason
 * @example const { engine, pending } = await loadRules("rules.yaml");
 */
export async function loadRules(
  path: string,
  append: readonly Rule[] = [],
): Promise<{ engine: RuleEngine; pending: string[] }> {
  let text: string;
  try {
    text = await Deno.readTextFile(path);
  } catch (e) {
    throw new RulesError(0, `cannot read: ${(e as Error).message}`, path);
  }
  const parsed = parseRulesFile(text, path);
  const file = { ...parsed, rules: [...parsed.rules, ...append] };
  const texts: ProviderTexts = new Map();
  const pending: string[] = [];
  for (const spec of file.providers.values()) {
    const where = providerPath(spec, path);
    if (!where) {
      if (spec.type === "http") pending.push(spec.name);
      continue;
    }
    try {
      texts.set(spec.name, await Deno.readTextFile(where));
    } catch (e) {
      if (spec.type === "file") {
        throw new RulesError(
          spec.line,
          `rule-provider "${spec.name}": cannot read ${where}: ${(e as Error).message}`,
          path,
        );
      }
      pending.push(spec.name);
    }
  }
  return { engine: await RuleEngine.create(file, texts), pending };
}
