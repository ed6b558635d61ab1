/** IP address ranges (CIDR) and membership tests for IPv4 and IPv6. */
import { isIPv4, parseIPv6 } from "../../protocol/address.ts";

/** A range as 16 address bytes (IPv4 mapped into ::ffff:0:0/96) and a prefix length. */
export interface Cidr {
  bytes: Uint8Array;
  prefix: number;
  text: string;
}

/**
 * Turns an IP literal into 16 bytes; IPv4 becomes its IPv4-mapped IPv6 form, so
 * `::ffff:127.0.0.1` and `127.0.0.1` are the same address. Null for anything else.
 */
export function ipBytes(ip: string): Uint8Array | null {
  if (isIPv4(ip)) {
    const bytes = new Uint8Array(16);
    bytes[10] = bytes[11] = 0xff;
    let at = 12;
    for (const part of ip.split(".")) bytes[at++] = Number(part);
    return bytes;
  }
  const groups = parseIPv6(ip);
  if (!groups) return null;
  return Uint8Array.from(groups.flatMap((g) => [g >> 8, g & 0xff]));
}

/**
 * Parses `10.0.0.0/8`, `fc00::/7` or a single address.
 *
 * @throws {RangeError} for anything else
 */
export function parseCidr(text: string): Cidr {
  // split returns at least one string: the default never applies. A third part ("/8/junk")
  // is refused below, not ignored.
  const [ip = "", prefixText, extra] = text.split("/");
  const bytes = ipBytes(ip);
  const v4 = isIPv4(ip);
  const max = v4 ? 32 : 128;
  const prefix = prefixText === undefined ? max : Number(prefixText);
  if (!bytes || extra !== undefined || !/^\d{1,3}$/.test(prefixText ?? "0") || prefix > max) {
    throw new RangeError(`expected an address range such as 10.0.0.0/8 or fc00::/7, got "${text}"`);
  }
  return { bytes, prefix: v4 ? prefix + 96 : prefix, text };
}

/** True when `ip` (16 bytes from {@linkcode ipBytes}) lies in `range`. */
export function inCidr(ip: Uint8Array, range: Cidr): boolean {
  const full = range.prefix >> 3;
  for (let i = 0; i < full; i++) if (ip[i] !== range.bytes[i]) return false;
  const bits = range.prefix & 7;
  if (bits === 0) return true;
  const mask = (0xff << (8 - bits)) & 0xff;
  return (ip[full]! & mask) === (range.bytes[full]! & mask);
}

/**
 * The IPv4 address an IPv6 address carries inside it, as 16 mapped bytes, or null: the
 * IPv4-compatible form `::a.b.c.d`, IPv4-translated `::ffff:0:a.b.c.d` (SIIT), NAT64
 * `64:ff9b::/96`, 6to4 `2002:AABB:CCDD::/48` and Teredo `2001::/32` (client address
 * inverted). A gateway on the path, or the kernel, may turn such an address into its IPv4
 * one, so both must pass the range check.
 */
export function embeddedIPv4(ip: Uint8Array): Uint8Array | null {
  const mapped = (a: number, b: number, c: number, d: number) =>
    Uint8Array.of(0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, a, b, c, d);
  const zeros = (from: number, to: number) => ip.subarray(from, to).every((b) => b === 0);
  const translated = zeros(0, 8) && ip[8] === 0xff && ip[9] === 0xff && zeros(10, 12);
  if (zeros(0, 12) || translated) return mapped(ip[12]!, ip[13]!, ip[14]!, ip[15]!);
  if (ip[0] === 0 && ip[1] === 0x64 && ip[2] === 0xff && ip[3] === 0x9b && zeros(4, 12)) {
    return mapped(ip[12]!, ip[13]!, ip[14]!, ip[15]!);
  }
  if (ip[0] === 0x20 && ip[1] === 0x02) return mapped(ip[2]!, ip[3]!, ip[4]!, ip[5]!);
  if (ip[0] === 0x20 && ip[1] === 0x01 && ip[2] === 0 && ip[3] === 0) {
    return mapped(ip[12]! ^ 0xff, ip[13]! ^ 0xff, ip[14]! ^ 0xff, ip[15]! ^ 0xff);
  }
  return null;
}

/** Addresses that belong to the server's own networks, refused unless allowed. */
export const PRIVATE_RANGES: Cidr[] = [
  "0.0.0.0/8", // "this network", 0.0.0.0 reaches the host itself
  "10.0.0.0/8",
  "100.64.0.0/10", // carrier-grade NAT
  "127.0.0.0/8",
  "169.254.0.0/16", // link-local, cloud metadata at 169.254.169.254
  "172.16.0.0/12",
  "192.0.0.0/24",
  "192.168.0.0/16",
  "198.18.0.0/15",
  "224.0.0.0/4", // multicast
  "240.0.0.0/4", // reserved and broadcast
  "::/128",
  "::1/128",
  "64:ff9b:1::/48", // local-use NAT64
  "fc00::/7", // unique local
  "fe80::/10", // link-local
  "fec0::/10", // site-local (deprecated, still routed inside some networks)
  "ff00::/8", // multicast
].map(parseCidr);
