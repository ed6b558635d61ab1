/**
 * Conditions compiled into steps run in order, first match wins. Runs of name rules
 * (`DOMAIN`, `DOMAIN-SUFFIX`) become one {@linkcode DomainTable} and runs of `IP-CIDR` one
 * {@linkcode RangeTable}, so 100,000 rules in a row cost a few hash probes or one binary
 * search, not a scan.
 */
import { PRIVATE_RANGES } from "../common/security/cidr.ts";
import { DomainTable } from "./domain_table.ts";
import { countryNumber, type GeoIp } from "./geoip.ts";
import { type IpKey, RangeTableBuilder } from "./range_table.ts";
import type { Condition, PortRange } from "./rule.ts";

/** What a connection offers the rules; `key` is filled once a name is resolved. */
export interface MatchContext {
  /** The name asked for, lower case, no trailing dot; null when the app gave an address. */
  name: string | null;
  /** The address: given, or resolved from `name`; null when neither. */
  key: IpKey | null;
  /** True once `name` was resolved (or resolution failed): IP rules then use `key` as is. */
  resolved: boolean;
  port: number;
  network: "tcp" | "udp";
}

/** A step's answer when it needs the address of a name that is not resolved yet. */
export const NEED_IP = -2;

/** One or more conditions: the position of the first that matches, -1, or {@linkcode NEED_IP}. */
export interface Step {
  match(ctx: MatchContext): number;
}

/** A rule-set by name, swappable when its provider refreshes. */
export interface RuleSetRef {
  name: string;
  matcher: Matcher;
}

/** What compiling may need: the GeoIP database (if a `GEOIP` condition is there), rule-sets. */
export interface CompileDeps {
  geo: GeoIp | null;
  ruleSets?: Map<string, RuleSetRef>;
}

/**
 * Conditions in order, compiled. `run` gives the position of the first match, -1, or
 * {@linkcode NEED_IP} with `pausedAt` set to where to resume once the name is resolved.
 */
export class Matcher {
  /** Where the last run stopped for want of an address. */
  pausedAt = 0;

  constructor(readonly steps: Step[], readonly size: number) {}

  run(ctx: MatchContext, from = 0): number {
    const steps = this.steps;
    for (let i = from; i < steps.length; i++) {
      const found = steps[i]!.match(ctx);
      if (found === NEED_IP) {
        this.pausedAt = i;
        return NEED_IP;
      }
      if (found >= 0) return found;
    }
    return -1;
  }
}

/**
 * Compiles `conditions` (position i is returned for a match of `conditions[i]`).
 *
 * @throws {Error} for a `GEOIP` condition without `deps.geo`, a `RULE-SET` not in
 * `deps.ruleSets` (the parsers check both first, with line numbers)
 */
export function compile(conditions: readonly Condition[], deps: CompileDeps): Matcher {
  const steps: Step[] = [];
  let domains: DomainTable | null = null;
  let cidrs: { builder: RangeTableBuilder; noResolve: boolean } | null = null;
  const flushCidrs = () => {
    if (cidrs) steps.push(cidrStep(cidrs.builder, cidrs.noResolve));
    cidrs = null;
  };
  conditions.forEach((c, index) => {
    if (isDomain(c)) {
      flushCidrs();
      if (!domains) steps.push(domainStep(domains = new DomainTable()));
      domains.add(DOMAIN_KINDS[c.type], c.value, index);
      return;
    }
    domains = null;
    if (c.type === "IP-CIDR" || c.type === "IP-CIDR6") {
      if (cidrs?.noResolve !== c.noResolve) {
        flushCidrs();
        cidrs = { builder: new RangeTableBuilder(), noResolve: c.noResolve };
      }
      cidrs!.builder.add(c.value, index);
      return;
    }
    flushCidrs();
    steps.push(singleStep(c, index, deps));
  });
  flushCidrs();
  return new Matcher(steps, conditions.length);
}

const DOMAIN_KINDS = {
  "DOMAIN": "exact",
  "DOMAIN-SUFFIX": "suffix",
  "DOMAIN-BELOW": "below",
  "DOMAIN-WILDCARD": "oneLabel",
} as const;

function isDomain(c: Condition): c is Extract<Condition, { type: keyof typeof DOMAIN_KINDS }> {
  return c.type in DOMAIN_KINDS;
}

function domainStep(table: DomainTable): Step {
  return { match: (ctx) => (ctx.name === null ? -1 : table.lookup(ctx.name)) };
}

function cidrStep(builder: RangeTableBuilder, noResolve: boolean): Step {
  const table = builder.build();
  return { match: (ctx) => withAddress(ctx, noResolve, (key) => table.lookup(key)) };
}

/** `lookup` of the address, resolving the name first unless `noResolve`. */
function withAddress(
  ctx: MatchContext,
  noResolve: boolean,
  lookup: (key: IpKey) => number,
): number {
  if (ctx.key) return lookup(ctx.key);
  return !noResolve && !ctx.resolved && ctx.name !== null ? NEED_IP : -1;
}

const LAN = (() => {
  const builder = new RangeTableBuilder();
  for (const range of PRIVATE_RANGES) builder.add(range, 0);
  return builder.build();
})();

function singleStep(c: Condition, index: number, deps: CompileDeps): Step {
  switch (c.type) {
    case "DOMAIN-KEYWORD":
      return { match: (ctx) => (ctx.name?.includes(c.value) ? index : -1) };
    case "DOMAIN-REGEX":
      return { match: (ctx) => (ctx.name !== null && c.value.test(ctx.name) ? index : -1) };
    case "GEOIP": {
      if (c.value === "LAN") {
        return {
          match: (ctx) => withAddress(ctx, c.noResolve, (k) => LAN.lookup(k) >= 0 ? index : -1),
        };
      }
      const geo = deps.geo;
      if (!geo) throw new Error("GEOIP needs the GeoIP database");
      const want = countryNumber(c.value);
      return {
        match: (ctx) =>
          withAddress(ctx, c.noResolve, (k) => geo.countryNumber(k) === want ? index : -1),
      };
    }
    case "DST-PORT":
      return { match: (ctx) => (inPorts(c.value, ctx.port) ? index : -1) };
    case "NETWORK":
      return { match: (ctx) => (ctx.network === c.value ? index : -1) };
    case "MATCH":
      return { match: () => index };
    case "RULE-SET": {
      const ref = deps.ruleSets?.get(c.value);
      if (!ref) throw new Error(`no rule-provider named "${c.value}"`);
      return ruleSetStep(ref, c.noResolve, index);
    }
    case "AND":
      return andStep(c.value.map((any) => compile(any, deps)), c.invert, index);
    default:
      throw new Error(`not a single-step condition: ${c.type}`);
  }
}

/** A rule-set matches when any of its entries does; with no-resolve, it never resolves. */
function ruleSetStep(ref: RuleSetRef, noResolve: boolean, index: number): Step {
  return {
    match(ctx) {
      if (!noResolve) {
        const found = ref.matcher.run(ctx);
        return found === NEED_IP ? NEED_IP : found >= 0 ? index : -1;
      }
      const resolved = ctx.resolved;
      ctx.resolved = true;
      const found = ref.matcher.run(ctx);
      ctx.resolved = resolved;
      return found >= 0 ? index : -1;
    },
  };
}

/** Every group has a match (none, with `invert`): a sing-box rule. */
function andStep(groups: Matcher[], invert: boolean, index: number): Step {
  return {
    match(ctx) {
      for (const group of groups) {
        const found = group.run(ctx);
        if (found === NEED_IP) return NEED_IP;
        if (found < 0) return invert ? index : -1;
      }
      return invert ? -1 : index;
    },
  };
}

function inPorts(ranges: PortRange[], port: number): boolean {
  for (const r of ranges) if (port >= r.first && port <= r.last) return true;
  return false;
}
