/**
 * Tunnel authentication: read the Trojan header within the handshake deadline, refuse a source
 * that is cooling off, and look the token up among the accounts.
 */
import { decodeTrojanHeader } from "../../protocol/trojan.ts";
import type { TrojanHeader } from "../../protocol/trojan.ts";
import { ProtocolError } from "../../protocol/errors.ts";
import type { Peer } from "../../common/net/peer.ts";
import type { AuthGuard } from "../users/auth_guard.ts";
import type { Account, Accounts } from "../users/accounts.ts";

/** The header's token belongs to no user (or its source is cooling off: it looks the same). */
export class UnknownToken extends ProtocolError {
  constructor() {
    super("the token belongs to no user");
  }
}

/** An authenticated tunnel request. */
export interface Tunnel {
  header: TrojanHeader;
  account: Account;
}

/** What {@linkcode authenticate} checks against. */
export interface TunnelAuthDeps {
  accounts: Accounts;
  guard: AuthGuard;
  handshakeTimeoutMs: number;
}

/**
 * Reads and checks the tunnel header from `peer` (whose source address is `ip`). A wrong
 * credential is counted against the source. On failure (a late header included) the connection
 * stays open and the bytes read stay in `peer`'s buffer, for a fallback site.
 *
 * @throws {UnknownToken} for an unknown credential or a source cooling off
 * @throws {ProtocolError} when the bytes are not a tunnel header
 * @throws {Deno.errors.TimedOut} when the header is not complete within the handshake timeout
 * @throws the connection's own errors
 * @example const { header, account } = await authenticate(peer, ip, deps);
 */
export async function authenticate(
  peer: Peer,
  ip: string,
  deps: TunnelAuthDeps,
): Promise<Tunnel> {
  try {
    // At the deadline the connection stays open with its bytes, for the fallback site.
    return await peer.readFrame((bytes) => {
      const decoded = decodeTrojanHeader(bytes);
      if (!decoded) return null;
      // A source cooling off is refused exactly like a wrong credential.
      if (deps.guard.isBlocked(ip)) throw new UnknownToken();
      const account = deps.accounts.find(decoded.value.token);
      if (!account) throw new UnknownToken();
      return { value: { header: decoded.value, account }, consumed: decoded.consumed };
    }, deps.handshakeTimeoutMs);
  } catch (error) {
    if (error instanceof UnknownToken) deps.guard.fail(ip);
    throw error;
  }
}
