/** Dialling destinations for tunnels, with the server's own networks kept out of reach. */
import { lookup } from "node:dns/promises";
import { formatHostPort } from "../../protocol/address.ts";
import type { Destination } from "../../protocol/address.ts";
import { embeddedIPv4, inCidr, ipBytes, PRIVATE_RANGES } from "../../common/security/cidr.ts";
import type { Cidr } from "../../common/security/cidr.ts";
import { isIPv4, isIPv6 } from "../../protocol/address.ts";
import type { BlockList } from "../../rules/block_list.ts";

/** A block list with the label its refusals are counted under (`server_list`, `user_list`). */
export interface LabelledBlockList {
  reason: string;
  list: BlockList;
}

/** Which destination addresses may be dialled. */
export interface DestinationPolicy {
  /** Allow loopback, private, link-local and unspecified ranges. */
  allowPrivate: boolean;
  /** Ranges always allowed (checked before `deny`). */
  allow: Cidr[];
  /** Ranges always refused. */
  deny: Cidr[];
  /**
   * Block lists, each checked on the name before resolving and on every address after; read
   * at each check (a user's list may change while an association is open), and the same array
   * while the lists are the same, so a cache may key on it.
   */
  blocks?: () => readonly LabelledBlockList[];
  /** TCP or UDP, for the block lists' `NETWORK` entries (default TCP). */
  network?: "tcp" | "udp";
}

/** Why a destination could not be reached; `kind` maps to a SOCKS5 REP on the local side. */
export class DialError extends Error {
  constructor(
    message: string,
    readonly kind: "not-allowed" | "blocked" | "unresolved" | "refused" | "unreachable",
    /** For "blocked": which list refused it (`server_list`, `user_list`, `bittorrent`). */
    readonly blockedBy = "",
  ) {
    super(message);
    this.name = "DialError";
  }
}

/**
 * True when the policy lets `ip` be dialled: an `allow` range wins, then a `deny` range
 * refuses, then private ranges are refused unless `allowPrivate`. An IPv6 address carrying an
 * IPv4 one (NAT64, 6to4, Teredo, `::a.b.c.d`) must pass for both. Anything that is not an
 * IP literal (a zone id such as `fe80::1%eth0` included) is refused.
 */
export function isAllowed(ip: string, policy: DestinationPolicy): boolean {
  const bytes = ipBytes(ip);
  if (!bytes) return false;
  if (policy.allow.some((range) => inCidr(bytes, range))) return true;
  const inner = embeddedIPv4(bytes);
  const forms = inner ? [bytes, inner] : [bytes];
  if (forms.some((form) => policy.deny.some((range) => inCidr(form, range)))) return false;
  if (policy.allowPrivate) return true;
  return !forms.some((form) => PRIVATE_RANGES.some((range) => inCidr(form, range)));
}

/**
 * Resolves `destination.host` and keeps the addresses the policy allows, in resolver order:
 * the check is on the resolved address, so a name pointing at 127.0.0.1 is refused like
 * 127.0.0.1. TCP dials and UDP datagrams both go through it.
 *
 * @throws {DialError} "unresolved" when the name does not resolve, "not-allowed" when every
 *   address is refused by the policy
 * @example const [ip] = await allowedAddresses({ host: "localhost", port: 53 }, policy);
 */
export async function allowedAddresses(
  destination: Destination,
  policy: DestinationPolicy,
): Promise<string[]> {
  const lists = policy.blocks?.() ?? [];
  const network = policy.network ?? "tcp";
  const { host, port } = destination;
  const name = isIPv4(host) || isIPv6(host) ? null : host;
  if (name !== null) {
    for (const { reason, list } of lists) {
      if (list.blocksName(name, port, network)) throw blockedError(destination, reason);
    }
  }
  let addresses: string[];
  try {
    addresses = (await lookup(destination.host, { all: true, verbatim: true })).map((a) =>
      a.address
    );
  } catch {
    throw new DialError(`${destination.host} does not resolve`, "unresolved");
  }
  let allowed = addresses.filter((ip) => isAllowed(ip, policy));
  for (const { reason, list } of lists) {
    if (allowed.length === 0) break;
    allowed = allowed.filter((ip) => !list.blocksAddress(ip, name, port, network));
    if (allowed.length === 0) throw blockedError(destination, reason);
  }
  if (allowed.length === 0) {
    const where = formatHostPort(destination);
    throw new DialError(`${where} is in a range this server does not serve`, "not-allowed");
  }
  return allowed;
}

/** The refusal of a destination a block list holds. */
export function blockedError(destination: Destination, reason: string): DialError {
  return new DialError(`${formatHostPort(destination)} is blocked (${reason})`, "blocked", reason);
}

/**
 * Resolves `destination` (the check is on the resolved address, so a name pointing at
 * 127.0.0.1 is refused like 127.0.0.1), then connects to the first allowed address that answers.
 *
 * @throws {DialError} when the name does not resolve, every address is refused by the policy,
 *   or no address accepts the connection
 */
export async function dial(
  destination: Destination,
  policy: DestinationPolicy,
  signal?: AbortSignal,
): Promise<Deno.TcpConn> {
  const where = formatHostPort(destination);
  const allowed = await allowedAddresses(destination, policy);
  let last: unknown;
  for (const hostname of allowed) {
    try {
      const conn = await Deno.connect({ hostname, port: destination.port, signal });
      conn.setNoDelay(true);
      return conn;
    } catch (error) {
      last = error;
    }
  }
  if (last instanceof Deno.errors.ConnectionRefused) {
    throw new DialError(`${where} refused the connection`, "refused");
  }
  throw new DialError(`${where} is unreachable: ${(last as Error)?.message}`, "unreachable");
}
