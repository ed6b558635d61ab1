/** Whether a host is this machine's loopback: what the dashboard and the admin panel bind by default. */
import { inCidr, ipBytes, parseCidr } from "./cidr.ts";

const LOOPBACK = [parseCidr("127.0.0.0/8"), parseCidr("::1/128")];

/**
 * True for `localhost`, 127.0.0.0/8 and ::1 (brackets allowed: `[::1]`).
 *
 * @example isLoopbackHost("127.0.0.1") // true
 */
export function isLoopbackHost(host: string): boolean {
  const bare = host.startsWith("[") && host.endsWith("]") ? host.slice(1, -1) : host;
  if (bare.toLowerCase() === "localhost") return true;
  const bytes = ipBytes(bare);
  return bytes !== null && LOOPBACK.some((range) => inCidr(bytes, range));
}
