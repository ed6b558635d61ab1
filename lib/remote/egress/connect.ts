/** The CONNECT command: dial the destination and relay through the account's meters. */
import { formatHostPort } from "../../protocol/address.ts";
import type { Destination } from "../../protocol/address.ts";
import { Peer } from "../../common/net/peer.ts";
import { relay } from "../../common/net/relay.ts";
import { watchIdle } from "../../common/net/idle.ts";
import { dial, DialError } from "./destination.ts";
import type { DestinationPolicy } from "./destination.ts";
import type { Account } from "../users/accounts.ts";

/** How a tunnel ended: bytes each way, why, and the error behind a failure. */
export interface TunnelEnd {
  up: number;
  down: number;
  /** Datagrams each way, for a UDP association. */
  datagrams?: { up: number; down: number };
  reason: string;
  error?: unknown;
}

/** What {@linkcode connect} needs from the server's config. */
export interface ConnectOptions {
  policy: DestinationPolicy;
  /** 0 for never. */
  idleTimeoutMs: number;
}

/**
 * Dials `destination` for `account` and relays `peer` to it until both sides end, the session
 * is aborted (a kick, a shutdown) or it goes idle. A failed dial closes `peer` and is
 * reported, not thrown.
 *
 * @example const end = await connect(peer, account, header.destination, session, options);
 */
export async function connect(
  peer: Peer,
  account: Account,
  destination: Destination,
  session: AbortController,
  options: ConnectOptions,
): Promise<TunnelEnd> {
  let target: Deno.TcpConn;
  try {
    target = await dial(destination, options.policy, session.signal);
  } catch (error) {
    peer.close();
    if (error instanceof DialError) account.refused(error.kind, formatHostPort(destination));
    return { up: 0, down: 0, reason: error instanceof DialError ? error.kind : "error", error };
  }
  const meters = { up: account.up, down: account.down };
  const idle = watchIdle(options.idleTimeoutMs, meters, session);
  try {
    return await relay(peer, new Peer(target), idle);
  } finally {
    idle.stop();
  }
}
