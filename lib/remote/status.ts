/**
 * The account-status destination: a CONNECT to `status.swiftproxy.invalid:1` is answered by
 * the remote itself with one JSON document (`.invalid` never resolves, RFC 2606).
 */
import type { Account } from "./accounts.ts";
import { VERSION } from "../version.ts";

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

/** The status document for `account`, as bytes ready to send. */
export function statusDocument(account: Account): Uint8Array {
  const u = account.user;
  const status: AccountStatus = {
    server: "swiftproxy",
    version: VERSION,
    user: u.name,
    limits: { up: u.upLimit, down: u.downLimit, quota: u.quota, maxConns: u.maxConns },
    usage: { up: u.bytesUp + account.unflushedUp, down: u.bytesDown + account.unflushedDown },
    expiresAt: u.expiresAt === null ? null : new Date(u.expiresAt).toISOString(),
    openConnections: account.sessions.size,
  };
  return new TextEncoder().encode(JSON.stringify(status) + "\n");
}
