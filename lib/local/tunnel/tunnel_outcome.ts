/**
 * What a finished client connection says about its tunnel: the access-log reasons of a tunnel
 * that failed, told apart from the destination's own doing.
 */
import type { CloseReason, RelayResult } from "../../common/net/relay.ts";

/** The reason of a connection whose tunnel could not be opened (SOCKS5 adds why, in brackets). */
export const TUNNEL_FAILED = "tunnel-failed";

/**
 * The reason of a connection whose tunnel the remote closed before any byte came back (a
 * SwiftProxy remote does so when the destination or the login is refused; the access log adds
 * why, from `tunnel_diagnosis.ts`).
 */
export const CLOSED_AT_ONCE = "remote-closed-at-once";

/**
 * The reason for the access log of a relay through a tunnel: {@linkcode CLOSED_AT_ONCE} when
 * the tunnel was cut (no clean TLS close) before any byte came back, else the relay's own.
 * A destination that accepts and then closes shows as a clean close, so it is not counted.
 *
 * @example return tunnelReason(await relay(client, tunnel, idle));
 */
export function tunnelReason(result: RelayResult): CloseReason | typeof CLOSED_AT_ONCE {
  return result.down === 0 && result.reason === "server-reset" ? CLOSED_AT_ONCE : result.reason;
}

/**
 * Whether a finished connection's reason says its tunnel failed: it could not be opened, or
 * the remote closed it at once.
 *
 * @example if (tunnelFailed(end.reason)) recheckAccount();
 */
export function tunnelFailed(reason: string): boolean {
  return reason.startsWith(CLOSED_AT_ONCE) || reason.startsWith(TUNNEL_FAILED);
}
