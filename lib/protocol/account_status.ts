/**
 * The account-status destination and its answer: a CONNECT to `status.swiftproxy.invalid:1`
 * is answered by a SwiftProxy remote itself with one JSON line and a close (`.invalid` never
 * resolves, RFC 2606). The remote encodes it, the local decodes it; both import it from here.
 */
import type { Destination } from "./address.ts";

export const STATUS_HOST = "status.swiftproxy.invalid";
export const STATUS_PORT = 1;

/** What the remote tells a user about their own account. */
export interface AccountStatus {
  server: "swiftproxy";
  version: string;
  user: string;
  limits: { up: number; down: number; quota: number; maxConns: number };
  usage: { up: number; down: number };
  expiresAt: string | null;
  openConnections: number;
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
  const line = new TextDecoder().decode(bytes).split("\n")[0];
  try {
    const value = JSON.parse(line);
    if (value?.server !== "swiftproxy" || typeof value.user !== "string") return null;
    if (typeof value.limits !== "object" || typeof value.usage !== "object") return null;
    return value as AccountStatus;
  } catch {
    return null;
  }
}
