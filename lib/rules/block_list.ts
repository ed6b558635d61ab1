/**
 * A destination block list for the remote (`serve --block FILE`, `user set NAME --block FILE`):
 * a rule-set in any of the formats the local's providers take, whose entries all mean "refuse".
 * A name is checked as the client gave it, before it is resolved; an address (given, or each
 * one a name resolves to) after.
 */
import { embeddedIPv4, ipBytes } from "../common/security/cidr.ts";
import { compile, type MatchContext, type Matcher } from "./matcher.ts";
import { type IpKey, ipKey } from "./range_table.ts";
import { type Condition, normalizeName, RulesError } from "./rule.ts";
import { type Behavior, parseRuleSet, textEntries, yamlEntries } from "./rule_set.ts";

/** The most a user's block list may hold (it is kept in the users table, read by every node). */
export const USER_BLOCK_LIST_MAX_BYTES = 1024 * 1024;

/**
 * A compiled block list.
 *
 * @example
 * ```ts
 * const list = parseBlockList("+.example.com\n10.0.0.0/8\nDST-PORT,25", "block.txt");
 * list.blocksName("www.example.com", 443, "tcp"); // true
 * list.blocksAddress("10.1.2.3", null, 443, "udp"); // true
 * ```
 */
export class BlockList {
  readonly #matcher: Matcher;
  readonly #ctx: MatchContext = { name: null, key: null, resolved: true, port: 0, network: "tcp" };

  /** @param size how many entries the list has */
  constructor(conditions: Condition[], readonly size: number) {
    this.#matcher = compile(conditions, { geo: null });
  }

  /** Whether `name` (as the client gave it) on `port` is refused, before any resolving. */
  blocksName(name: string, port: number, network: "tcp" | "udp"): boolean {
    return this.#run(normalizeName(name), null, port, network);
  }

  /**
   * Whether the address `ip` is refused on `port` (`name`: the name it was resolved from, if
   * any, for entries that ask for both). An IPv6 address carrying an IPv4 one (NAT64, 6to4,
   * Teredo, `::a.b.c.d`) is refused when either is.
   */
  blocksAddress(ip: string, name: string | null, port: number, network: "tcp" | "udp"): boolean {
    const key = ipKey(ip);
    if (!key) return false;
    const host = name === null ? null : normalizeName(name);
    if (this.#run(host, key, port, network)) return true;
    if (key.v4) return false;
    const inner = embeddedIPv4(ipBytes(ip)!);
    if (!inner) return false;
    const v4: IpKey = {
      v4: true,
      words: Uint32Array.of(
        ((inner[12]! << 24) | (inner[13]! << 16) | (inner[14]! << 8) | inner[15]!) >>> 0,
      ),
    };
    return this.#run(host, v4, port, network);
  }

  #run(name: string | null, key: IpKey | null, port: number, network: "tcp" | "udp"): boolean {
    const ctx = this.#ctx;
    ctx.name = name;
    ctx.key = key;
    ctx.port = port;
    ctx.network = network;
    // `resolved` stays true: a name's addresses are checked one by one by the caller.
    return this.#matcher.run(ctx) >= 0;
  }
}

/**
 * Parses a block list: a sing-box rule-set source (JSON), a mihomo rule-set with a `payload:`
 * list (YAML), or text with one entry a line. Each entry is read by its look: with a comma, a
 * classical rule (`DOMAIN-KEYWORD,torrent`, `DST-PORT,25`, `IP-CIDR,1.2.3.0/24`); an address or
 * a range (`10.0.0.0/8`, `1.2.3.4`, `2001:db8::/32`); otherwise a name as mihomo's domain sets
 * write them (`example.com` exactly, `+.example.com` it and every name under it, `.example.com`
 * only the names under it, `*.example.com` one label under it).
 *
 * @throws {RulesError} naming `source`, the line and the reason; `GEOIP` (other than `LAN`) is
 *   refused: the remote carries no country database
 * @example parseBlockList("+.tracker.example\n198.51.100.0/24\n", "block.txt")
 */
export function parseBlockList(text: string, source: string): BlockList {
  const head = text.trimStart();
  let conditions: Condition[];
  if (head.startsWith("{")) conditions = parseRuleSet(text, "json", "classical", source).conditions;
  else {
    conditions = withSource(source, () => {
      const entries = /^payload\s*:/m.test(text) ? yamlEntries(text) : textEntries(text);
      return entries.map(({ value, line }) => entry(value, line));
    });
  }
  const geo = conditions.find(needsGeoIp);
  if (geo) {
    throw new RulesError(0, "GEOIP is not supported in a block list (only GEOIP,LAN)", source);
  }
  return new BlockList(conditions, conditions.length);
}

function needsGeoIp(c: Condition): boolean {
  return (c.type === "GEOIP" && c.value !== "LAN") ||
    (c.type === "AND" && c.value.some((any) => any.some(needsGeoIp)));
}

/** Runs `parse`, naming `source` in the {@linkcode RulesError} it may throw. */
function withSource<T>(source: string, parse: () => T): T {
  try {
    return parse();
  } catch (e) {
    if (e instanceof RulesError) throw new RulesError(e.line, e.reason, source);
    throw e;
  }
}

/** One entry, read by its look (see {@linkcode parseBlockList}), with its line in errors. */
function entry(value: string, line: number): Condition {
  const behavior: Behavior = value.includes(",")
    ? "classical"
    : /^[0-9.]+(\/\d+)?$/.test(value) || value.includes(":")
    ? "ipcidr"
    : "domain";
  try {
    // A YAML entry may be empty or look like a comment: text parsing then finds no entry.
    const [condition] = parseRuleSet(value, "text", behavior, "").conditions;
    if (!condition) {
      throw new RulesError(line, `expected a rule, an address or a name, got "${value}"`);
    }
    return condition;
  } catch (e) {
    if (e instanceof RulesError) throw new RulesError(line, e.reason);
    throw e;
  }
}
