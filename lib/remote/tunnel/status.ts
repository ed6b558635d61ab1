/** The remote's answer to the account-status destination (lib/protocol/account_status.ts). */
import type { Account } from "../users/accounts.ts";
import { encodeAccountStatus } from "../../protocol/account_status.ts";
import { VERSION } from "../../version.ts";

/** The status document for `account`, as bytes ready to send. */
export function statusDocument(account: Account): Uint8Array {
  const u = account.user;
  const last = account.lastRefusal;
  return encodeAccountStatus({
    server: "swiftproxy",
    version: VERSION,
    user: u.name,
    limits: { up: u.upLimit, down: u.downLimit, quota: u.quota, maxConns: u.maxConns },
    usage: { up: account.usedUp, down: account.usedDown },
    expiresAt: u.expiresAt === null ? null : new Date(u.expiresAt).toISOString(),
    openConnections: account.sessions.size,
    refusal: account.refusalReason(),
    lastRefusal: last && {
      reason: last.reason,
      destination: last.destination,
      at: new Date(last.at).toISOString(),
      agoMs: Date.now() - last.at,
    },
  });
}
