/**
 * The account-status destination and its answer: a CONNECT to `status.swiftproxy.invalid:1`
 * is answered by a SwiftProxy remote itself with one JSON line and a close (`.invalid` never
 * resolves, RFC 2606). The remote encodes it, the local decodes it; both import it from here.
 */
import type { Destination } from "./address.ts";

export const STATUS_HOST = "status.swiftproxy.invalid";
export const STATUS_PORT = 1;

/**
 * Why a SwiftProxy remote refused a tunnel of a logged-in user, as its own locals learn it
 * (Trojan has no way to say it in the tunnel): the destination's fault or the account's.
 */
export type RefusalReason =
  /** The destination is in a range or on a list the server does not serve. */
  | "not-allowed"
  /** The destination's name does not resolve. */
  | "unresolved"
  /** The destination refused the connection. */
  | "refused"
  /** The destination could not be reached. */
  | "unreachable"
  | "over-quota"
  | "expired"
  | "disabled"
  /** The user's own connection limit. */
  | "max-conns"
  /** The user's device limit: tunnels are open from as many other addresses as it allows. */
  | "max-ips"
  /** The server's connection limit. */
  | "server-full";

/**
 * The last tunnel a remote refused for a user: why, where to, when (ISO time), and how long
 * before the document was made (so a local need not trust the two clocks agree).
 */
export interface LastRefusal {
  reason: RefusalReason;
  destination: string;
  at: string;
  agoMs: number;
}

/** What the remote tells a user about their own account. */
export interface AccountStatus {
  server: "swiftproxy";
  version: string;
  user: string;
  limits: { up: number; down: number; quota: number; maxConns: number };
  usage: { up: number; down: number };
  expiresAt: string | null;
  openConnections: number;
  /** Why the account may not open a tunnel now (absent from older remotes: none). */
  refusal?: RefusalReason | null;
  /**
   * How many other addresses (an IPv6 /64 as one) have tunnels of this account open, on every
   * node, as far as this one knows; with `refusal` "max-ips" (absent: not asked).
   */
  otherPlaces?: number;
  /** The user's last refused tunnel on this server since it started (absent: none). */
  lastRefusal?: LastRefusal | null;
}

/** Whether `destination` is the account-status destination. */
export function isStatusDestination(destination: Destination): boolean {
  return destination.host === STATUS_HOST && destination.port === STATUS_PORT;
}

/**
 * The status document as bytes ready to send: one JSON line.
 *
 * @example encodeAccountStatus(status) // {"server":"swiftproxy",…}\n
 */
export function encodeAccountStatus(status: AccountStatus): Uint8Array {
  return new TextEncoder().encode(JSON.stringify(status) + "\n");
}

/**
 * Reads a status document from the bytes a remote answered, or null when they are not one
 * (a plain Trojan server's fallback site, say).
 *
 * @example decodeAccountStatus(bytes)?.limits.quota
 */
export function decodeAccountStatus(bytes: Uint8Array): AccountStatus | null {
  const line = new TextDecoder().decode(bytes).split("\n")[0]!;
  try {
    const value = JSON.parse(line);
    if (value?.server !== "swiftproxy" || typeof value.user !== "string") return null;
    if (typeof value.limits !== "object" || typeof value.usage !== "object") return null;
    return value as AccountStatus;
  } catch {
    return null;
  }
}
