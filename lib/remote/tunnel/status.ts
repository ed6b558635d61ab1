/** The remote's answer to the account-status destination (lib/protocol/account_status.ts). */
import type { Account } from "../users/accounts.ts";
import { encodeAccountStatus } from "../../protocol/account_status.ts";
import { VERSION } from "../../version.ts";

/**
 * The status document for `account`, as bytes ready to send; `source` (a `sourceKey`) is the
 * address asking, which the device limit may refuse.
 */
export function statusDocument(account: Account, source?: string): Uint8Array {
  const u = account.user;
  const refusal = account.refusalReason(Date.now(), 0, source);
  const last = account.lastRefusal;
  return encodeAccountStatus({
    server: "swiftproxy",
    version: VERSION,
    user: u.name,
    limits: { up: u.upLimit, down: u.downLimit, quota: u.quota, maxConns: u.maxConns },
    usage: { up: account.usedUp, down: account.usedDown },
    expiresAt: u.expiresAt === null ? null : new Date(u.expiresAt).toISOString(),
    openConnections: account.sessions.size,
    refusal,
    ...(refusal === "max-ips" && source !== undefined
      ? { otherPlaces: account.otherPlaces(source) }
      : {}),
    lastRefusal: last && {
      reason: last.reason,
      destination: last.destination,
      at: new Date(last.at).toISOString(),
      agoMs: Date.now() - last.at,
    },
  });
}
