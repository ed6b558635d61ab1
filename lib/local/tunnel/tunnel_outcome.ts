/**
 * What a finished client connection says about its tunnel: the outcomes of a tunnel that
 * failed, told apart from the destination's own doing.
 */
import type { RelayResult } from "../../common/net/relay.ts";
import type { SessionOutcome } from "../../common/ops/session_events.ts";
import type { RouteConn } from "./route.ts";

/**
 * The outcome of a relay through a tunnel: `closed-at-once` when the tunnel was cut (no clean
 * TLS close) before any byte came back (a SwiftProxy remote does so when the destination or
 * the login is refused; `tunnel_diagnosis.ts` tells why), else the relay's own. A destination
 * that accepts and then closes shows as a clean close, so it is not counted.
 *
 * @example return tunnelOutcome(await relay(client, tunnel, idle));
 */
export function tunnelOutcome(result: RelayResult): SessionOutcome {
  return {
    kind: result.down === 0 && result.reason === "server-reset" ? "closed-at-once" : result.reason,
  };
}

/**
 * The outcome of a relay on `conn`: `tunnel-lost` with why when the shared tunnel under it
 * failed, else {@linkcode tunnelOutcome}'s.
 *
 * @example return routeOutcome(conn, await relay(client, conn.peer, idle));
 */
export function routeOutcome(conn: RouteConn, result: RelayResult): SessionOutcome {
  const lost = conn.lost?.();
  return lost ? { kind: "tunnel-lost", detail: lost } : tunnelOutcome(result);
}

/**
 * Whether a finished connection's outcome says its tunnel failed: it could not be opened, the
 * remote closed it at once, or the shared tunnel under it failed.
 *
 * @example if (tunnelFailed(end.outcome)) recheckAccount();
 */
export function tunnelFailed(outcome: SessionOutcome): boolean {
  return outcome.kind === "closed-at-once" || outcome.kind === "tunnel-failed" ||
    outcome.kind === "tunnel-lost";
}
