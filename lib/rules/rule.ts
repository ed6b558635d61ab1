/**
 * One routing rule as mihomo (Clash Meta) writes it, `TYPE,VALUE,ACTION[,no-resolve]`, parsed
 * into a typed value; and the error every rules parser throws.
 */
import { type Cidr, parseCidr } from "../common/security/cidr.ts";
import { isIPv4 } from "../protocol/address.ts";

/** What a matched rule does with the connection. */
export type Action = "PROXY" | "DIRECT" | "REJECT";

/** The actions, as written in a rules file (any case). */
export const ACTIONS: readonly Action[] = ["PROXY", "DIRECT", "REJECT"];

/** A rule's condition: what it looks at and the value it compares with. */
export type Condition =
  | { type: "DOMAIN" | "DOMAIN-SUFFIX" | "DOMAIN-KEYWORD"; value: string }
  | { type: "DOMAIN-REGEX"; value: RegExp }
  | { type: "IP-CIDR" | "IP-CIDR6"; value: Cidr; noResolve: boolean }
  | { type: "GEOIP"; value: string; noResolve: boolean }
  | { type: "DST-PORT"; value: PortRange[] }
  | { type: "NETWORK"; value: "tcp" | "udp" }
  | { type: "RULE-SET"; value: string; noResolve: boolean }
  | { type: "MATCH" }
  // From rule-set entries only: `.name` (names under it) and `*.name` (one label under it).
  | { type: "DOMAIN-BELOW" | "DOMAIN-WILDCARD"; value: string }
  // From sing-box rule-sets only: a rule whose conditions must all hold (each a list of
  // alternatives), or must not when `invert`.
  | { type: "AND"; value: Condition[][]; invert: boolean };

/** A rule of the `rules:` list: a condition, an action, and the text as written. */
export type Rule = Condition & { action: Action; text: string; line: number };

/** Ports from `first` to `last`, both included. */
export interface PortRange {
  first: number;
  last: number;
}

/**
 * A rules file, rule-set or rule the program refuses: where (`line`, 1-based, 0 when unknown)
 * and why (`reason`). The message says both.
 *
 * @example
 * ```ts
 * try { parseRule("DOMAIN-SUFFIX,google.com,Proxies", 3); }
 * catch (e) { if (e instanceof RulesError) console.log(e.line, e.reason); }
 * ```
 */
export class RulesError extends Error {
  constructor(readonly line: number, readonly reason: string, readonly source = "") {
    super(`${source ? `${source}: ` : ""}${line ? `line ${line}: ` : ""}${reason}`);
    this.name = "RulesError";
  }
}

/** The rule types that take an option after the action. */
const RESOLVING = new Set(["IP-CIDR", "IP-CIDR6", "GEOIP", "RULE-SET"]);

/**
 * Parses one rule of a `rules:` list, `TYPE,VALUE,ACTION[,no-resolve]` (`MATCH,ACTION`).
 *
 * @throws {RulesError} naming `line` and what was wrong: an unknown type or action, a bad value
 * @example parseRule("IP-CIDR,10.0.0.0/8,DIRECT,no-resolve", 7)
 */
export function parseRule(text: string, line: number): Rule {
  const fail = (reason: string): never => {
    throw new RulesError(line, `${reason} in "${text}"`);
  };
  const parts = text.split(",").map((p) => p.trim());
  const type = parts[0]!.toUpperCase();
  if (type === "MATCH") {
    if (parts.length !== 2) fail("expected MATCH,ACTION");
    return { type, action: parseAction(parts[1], fail), text, line };
  }
  if (parts.length < 3) fail("expected TYPE,VALUE,ACTION");
  const [, value, actionText, ...options] = parts;
  const action = parseAction(actionText, fail);
  for (const option of options) {
    if (option !== "no-resolve" || !RESOLVING.has(type)) {
      fail(`unsupported option "${option}" (only IP-CIDR, GEOIP and RULE-SET take no-resolve)`);
    }
  }
  const noResolve = options.includes("no-resolve");
  const condition = parseCondition(type, value!, fail, noResolve);
  return { ...condition, action, text, line };
}

/**
 * The condition of a rule of type `type` with `value`: shared by `rules:` and by the classical
 * rule-sets, whose lines have no action.
 */
export function parseCondition(
  type: string,
  value: string,
  fail: (reason: string) => never,
  noResolve = false,
): Condition {
  if (value === "") fail(`${type} needs a value`);
  switch (type) {
    case "DOMAIN":
    case "DOMAIN-SUFFIX":
      return { type, value: normalizeName(value) };
    case "DOMAIN-KEYWORD":
      return { type, value: value.toLowerCase() };
    case "DOMAIN-REGEX":
      try {
        return { type, value: new RegExp(value, "i") };
      } catch {
        return fail(`bad regular expression "${value}"`);
      }
    case "IP-CIDR":
    case "IP-CIDR6": {
      let cidr: Cidr | undefined;
      try {
        cidr = parseCidr(value);
      } catch (e) {
        fail((e as Error).message);
      }
      if (!value.includes("/")) fail(`expected an address range such as 10.0.0.0/8`);
      if ((type === "IP-CIDR6") === isIPv4(value.split("/")[0]!)) {
        fail(`${type} takes ${type === "IP-CIDR6" ? "an IPv6" : "an IPv4"} range`);
      }
      return { type, value: cidr!, noResolve };
    }
    case "GEOIP":
      if (!/^([A-Za-z]{2}|LAN)$/i.test(value)) fail(`expected a two-letter country code or LAN`);
      return { type, value: value.toUpperCase(), noResolve };
    case "DST-PORT":
      return { type, value: parsePorts(value, fail) };
    case "NETWORK": {
      const network = value.toLowerCase();
      if (network !== "tcp" && network !== "udp") fail(`NETWORK is tcp or udp`);
      return { type, value: network as "tcp" | "udp" };
    }
    case "RULE-SET":
      return { type, value, noResolve };
    default:
      return fail(`unknown rule type "${type}"`);
  }
}

/** `PROXY`, `DIRECT` or `REJECT`, any case. */
function parseAction(text: string | undefined, fail: (reason: string) => never): Action {
  const action = (text ?? "").toUpperCase() as Action;
  if (!ACTIONS.includes(action)) {
    fail(
      `unknown action "${text}" (expected PROXY, DIRECT or REJECT; policy groups are not supported)`,
    );
  }
  return action;
}

/** `22`, `8000-8999`, `80/443` (mihomo's list separator). */
export function parsePorts(text: string, fail: (reason: string) => never): PortRange[] {
  return text.split("/").map((part) => {
    const m = /^(\d{1,5})(?:-(\d{1,5}))?$/.exec(part.trim());
    const first = Number(m?.[1]);
    const last = m?.[2] === undefined ? first : Number(m[2]);
    if (!m || first > last || last > 65535) fail(`expected a port or a range such as 8000-8999`);
    return { first, last };
  });
}

/** A name as the tables keep it: lower case, no trailing dot. */
export function normalizeName(name: string): string {
  const lower = name.toLowerCase();
  return lower.endsWith(".") ? lower.slice(0, -1) : lower;
}
