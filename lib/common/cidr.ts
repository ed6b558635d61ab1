/** IP address ranges (CIDR) and membership tests for IPv4 and IPv6. */
import { isIPv4, parseIPv6 } from "../protocol/address.ts";

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
    return Uint8Array.of(0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, ...ip.split(".").map(Number));
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
  const [ip, prefixText] = text.split("/");
  const bytes = ipBytes(ip);
  const v4 = isIPv4(ip);
  const max = v4 ? 32 : 128;
  const prefix = prefixText === undefined ? max : Number(prefixText);
  if (!bytes || !/^\d{1,3}$/.test(prefixText ?? "0") || prefix > max) {
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
  return (ip[full] & mask) === (range.bytes[full] & mask);
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
  "ff00::/8", // multicast
].map(parseCidr);
