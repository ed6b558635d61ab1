/**
 * The part of a rules list a browser can follow by itself (`/proxy.pac`): the `DOMAIN` and
 * `DOMAIN-SUFFIX` rules before the first rule that could match a name in a way a PAC script
 * cannot tell (a keyword, a regex, a port, a rule-set, an IP rule that resolves, `MATCH`). In
 * that prefix, the first rule a name matches is the one the engine would choose.
 */
import type { Rule } from "./rule.ts";

/** For one name: the first rule of the prefix naming it exactly, and as a suffix. */
export interface NameRules {
  /** The index of the first `DOMAIN` rule for the name and whether it is DIRECT, or null. */
  exact: [number, boolean] | null;
  /** The same for the first `DOMAIN-SUFFIX` rule (the name and every name under it). */
  suffix: [number, boolean] | null;
}

/**
 * The domain rules of the safe prefix of `rules`, by name; empty when none of them is
 * DIRECT (then a PAC has nothing to send straight).
 *
 * @example domainPrefix(parsed.rules).get("cn") // { exact: null, suffix: [0, true] }
 */
export function domainPrefix(rules: readonly Rule[]): Map<string, NameRules> {
  const names = new Map<string, NameRules>();
  let anyDirect = false;
  for (const [index, rule] of rules.entries()) {
    if (rule.type === "DOMAIN" || rule.type === "DOMAIN-SUFFIX") {
      const entry = names.get(rule.value) ?? { exact: null, suffix: null };
      const key = rule.type === "DOMAIN" ? "exact" : "suffix";
      entry[key] ??= [index, rule.action === "DIRECT"];
      names.set(rule.value, entry);
      anyDirect ||= rule.action === "DIRECT";
      continue;
    }
    // An address rule that never resolves cannot match a name: the browser may go past it.
    const addressOnly = (rule.type === "IP-CIDR" || rule.type === "IP-CIDR6" ||
      rule.type === "GEOIP") && rule.noResolve;
    if (!addressOnly) break;
  }
  return anyDirect ? names : new Map();
}
