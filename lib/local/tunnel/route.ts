/**
 * Where a session's connection goes: to the remote through a tunnel of its own (`TunnelDialer`)
 * or a Mux.Cool sub-connection on a shared one (`MuxRoute`, `--mux`), or as the rules decide
 * (`RuleRoute`: through the proxy route it wraps, straight out with `DirectRoute`, or refused);
 * the inbound sessions need not change.
 */
import type { Destination } from "../../protocol/address.ts";
import type { Peer } from "../../common/net/peer.ts";

/** A connection a route opened for one session, nothing written on it yet. */
export interface RouteConn {
  readonly peer: Peer;
  /**
   * The bytes of the session's first write: `payload` (the app's first bytes, a UDP
   * association's first frame) after whatever must go before it (a tunnel's Trojan header
   * naming `to`, by default the destination the connection was opened for), in one buffer.
   */
  first(payload: Uint8Array, to?: Destination): Uint8Array;
  /**
   * Why the tunnel under the connection failed while it was open, when it did and the route
   * can tell (a Mux.Cool tunnel shared with other connections); null otherwise.
   */
  lost?(): string | null;
  /** The number of the tunnel the connection shares with others, for the dashboard. */
  readonly tunnel?: number;
  /** Where it goes, when a rule decided (absent: through the remote, no rules asked). */
  readonly via?: RouteKind;
  /** The rule that decided, as written (`(default)` when none matched). */
  readonly rule?: string;
}

/** How a session's connection went: through the remote, straight out, or refused by a rule. */
export type RouteKind = "proxy" | "direct" | "rejected";

/** Opens connections for sessions. */
export interface Route {
  /**
   * A connection for a session to `destination` (for `udp`, an association whose frames name
   * their own destinations; `destination` is then only the first write's default).
   *
   * @throws {TunnelError} when it cannot be opened; `kind` says why, for the app's reply
   */
  open(destination: Destination, network?: "tcp" | "udp"): Promise<RouteConn>;
}
