/** The unit a client address is counted in, for per-source limits. */
import { isIPv4 } from "../../protocol/address.ts";
import { ipBytes } from "./cidr.ts";

/**
 * The unit an address is counted in: an IPv4 address (IPv4-mapped IPv6 included), or the /64
 * of an IPv6 one, since one host usually has a whole /64 to pick addresses from. Anything that
 * is not an IP address is its own unit.
 *
 * @example sourceKey("2001:db8::1"); // "2001:db8:0:0::/64"
 */
export function sourceKey(ip: string): string {
  // The common case without the bytes: a canonical IPv4 literal is its own key.
  if (isIPv4(ip)) return ip;
  const bytes = ipBytes(ip);
  if (!bytes) return ip;
  const mapped = bytes.subarray(0, 12).every((b, i) => b === (i >= 10 ? 0xff : 0));
  if (mapped) return bytes.subarray(12).join(".");
  const groups = [];
  for (let i = 0; i < 8; i += 2) groups.push(((bytes[i]! << 8) | bytes[i + 1]!).toString(16));
  return `${groups.join(":")}::/64`;
}
