/**
 * The one tunnel routine of the local's inbound sessions: refuse while the remote refuses the
 * whole account, open a connection on the route, send the header with the app's first bytes
 * while answering the app, relay, and report one outcome. SOCKS5 CONNECT and HTTP CONNECT
 * differ only in their {@linkcode AppReply}; forwarded HTTP requests and UDP associations use
 * its steps.
 */
import type { Destination } from "../../protocol/address.ts";
import type { Peer } from "../../common/net/peer.ts";
import { relay } from "../../common/net/relay.ts";
import type { Meter, RelayOptions } from "../../common/net/relay.ts";
import type { SessionOutcome } from "../../common/ops/session_events.ts";
import { TunnelError } from "../tunnel/tunnel.ts";
import type { Route, RouteConn } from "../tunnel/route.ts";
import type { Diagnosis } from "../tunnel/tunnel_diagnosis.ts";
import { routeOutcome } from "../tunnel/tunnel_outcome.ts";
import { sendHeader } from "./first_bytes.ts";

/** How an inbound protocol answers its app; each may throw when the app has gone. */
export interface AppReply {
  /** The connection is open: SOCKS5 REP 0, or `200 Connection established`. */
  opened(): Promise<void>;
  /** No connection: the SOCKS5 REP or the HTTP status that fits `error`. */
  failed(error: TunnelError): Promise<void>;
  /** The remote refuses the whole account: the REP, or the 502 whose body says why. */
  refused(diagnosis: Diagnosis): Promise<void>;
}

/** What the routine needs from the local server. */
export interface TunnelRoutine {
  route: Route;
  /**
   * While the remote refuses the whole account: why (asked again), for a connection to
   * `destination` that would go through it (not one the rules send direct or refuse); else
   * null, at once.
   */
  accountRefused(destination: Destination): Promise<Diagnosis | null> | null;
  /** Notes the refusal the app was answered with (the access log, the dashboard). */
  refusedBy(diagnosis: Diagnosis): void;
}

const REFUSED: SessionOutcome = { kind: "refused" };
const CLIENT_RESET: SessionOutcome = { kind: "client-reset" };

/**
 * Serves `client`'s connection to `destination` through the routine, from the account check
 * to the end of the relay; `relayOptions` is asked for once the connection is open (the
 * meters, and the idle watch's signal).
 *
 * @returns how it ended; both connections are closed by then, unless it ended before the relay
 * @example return await tunnelSession(client, destination, socksReply, routine, () => idle);
 */
export async function tunnelSession(
  client: Peer,
  destination: Destination,
  reply: AppReply,
  routine: TunnelRoutine,
  relayOptions: () => RelayOptions & { up: Meter },
): Promise<SessionOutcome> {
  const refused = await accountRefusal(routine, reply, destination);
  if (refused) return refused;
  const conn = await openRoute(routine.route, destination, reply);
  if (!("peer" in conn)) return conn;
  const options = relayOptions();
  try {
    // Both at once: the remote dials the destination while the app reads its reply.
    await Promise.all([sendHeader(client, conn.peer, conn.first, options.up), reply.opened()]);
  } catch {
    conn.peer.close();
    return CLIENT_RESET;
  }
  return routeOutcome(conn, await relay(client, conn.peer, options));
}

/**
 * The routine's first step: while the remote refuses the whole account, the app is told why
 * and the outcome is `refused`; null at once otherwise, so a working account pays nothing.
 */
export async function accountRefusal(
  routine: TunnelRoutine,
  reply: AppReply,
  destination: Destination,
): Promise<SessionOutcome | null> {
  const refused = await routine.accountRefused(destination);
  if (!refused) return null;
  routine.refusedBy(refused);
  await reply.refused(refused);
  return REFUSED;
}

/**
 * The routine's second step: a connection on the route, or the app told why there is none
 * and the outcome `tunnel-failed` with the error's kind.
 */
export async function openRoute(
  route: Route,
  destination: Destination,
  reply: Pick<AppReply, "failed">,
  network: "tcp" | "udp" = "tcp",
): Promise<RouteConn | SessionOutcome> {
  try {
    return await route.open(destination, network);
  } catch (error) {
    if (!(error instanceof TunnelError)) throw error;
    await reply.failed(error);
    return { kind: "tunnel-failed", detail: error.kind };
  }
}
