/**
 * Routing rules for the local: which connections go through the server (`PROXY`), straight
 * out (`DIRECT`) or nowhere (`REJECT`), from a mihomo-style rules file with rule-providers
 * (mihomo YAML/text, sing-box rule-set source JSON) and an offline GeoIP database.
 *
 * @example
 * ```ts
 * const resolve = (name: string) => Deno.resolveDns(name, "A");
 * const { engine, pending } = await loadRules("rules.yaml"); // RulesError: file, line, reason
 * const d = await engine.decide({ host: "www.gov.cn", port: 443, network: "tcp" }, resolve);
 * d.action; // "DIRECT"
 * d.rule; // "GEOIP,CN,DIRECT"
 * ```
 */
export {
  type Decision,
  DEFAULT_DECISION,
  loadRules,
  providerPath,
  type ProviderTexts,
  type Query,
  type Resolve,
  RuleEngine,
} from "./engine.ts";
export { type GeoIp, loadGeoIp } from "./geoip.ts";
export { type Action, type Rule, RulesError } from "./rule.ts";
export { parseRuleSet, type RuleSetFormat } from "./rule_set.ts";
export {
  directCountryRules,
  parseRulesFile,
  type ProviderSpec,
  type RulesFile,
} from "./rules_file.ts";
