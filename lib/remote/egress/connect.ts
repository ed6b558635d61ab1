/** The CONNECT command: dial the destination and relay through the account's meters. */
import { formatHostPort } from "../../protocol/address.ts";
import type { Destination } from "../../protocol/address.ts";
import { bittorrentStream } from "../../rules/bittorrent.ts";
import { concat, Peer } from "../../common/net/peer.ts";
import { relay } from "../../common/net/relay.ts";
import type { SessionOutcome } from "../../common/ops/session_events.ts";
import { watchIdle } from "../../common/net/idle.ts";
import { dial, DialError } from "./destination.ts";
import type { DestinationPolicy } from "./destination.ts";
import type { Account } from "../users/accounts.ts";

/** How a tunnel ended: bytes each way, its outcome, and the error behind a failure. */
export interface TunnelEnd {
  up: number;
  down: number;
  /** Datagrams each way, for a UDP association. */
  datagrams?: { up: number; down: number };
  outcome: SessionOutcome;
  error?: unknown;
}

/** What {@linkcode connect} needs from the server's config. */
export interface ConnectOptions {
  policy: DestinationPolicy;
  /** 0 for never. */
  idleTimeoutMs: number;
  /** Refuse a stream that starts with the BitTorrent handshake: `serve --block-bittorrent`. */
  blockBittorrent?: boolean;
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
  // The bytes that came with the header are looked at before the dial; when there are none
  // (a protocol where the server speaks first), the relay looks at the first ones to come.
  const early = options.blockBittorrent ? peer.takeBuffered() : new Uint8Array(0);
  peer.unread(early);
  const verdict = options.blockBittorrent && early.length > 0 ? bittorrentStream(early) : "no";
  let target: Deno.TcpConn;
  try {
    if (verdict === "yes") throw new DialError("a BitTorrent handshake", "blocked", "bittorrent");
    target = await dial(destination, options.policy, session.signal);
  } catch (error) {
    peer.close();
    if (error instanceof DialError) {
      // A block list is, to the user, a destination the server does not serve.
      account.refused(
        error.kind === "blocked" ? "not-allowed" : error.kind,
        formatHostPort(destination),
      );
    }
    if (error instanceof DialError && error.kind === "blocked") account.blocked(error.blockedBy);
    const outcome: SessionOutcome = { kind: error instanceof DialError ? error.kind : "error" };
    return { up: 0, down: 0, outcome, error };
  }
  const meters = { up: account.up, down: account.down };
  const idle = watchIdle(options.idleTimeoutMs, meters, session);
  const inspect = options.blockBittorrent && (early.length === 0 || verdict === "more");
  try {
    const { up, down, reason } = await relay(
      peer,
      new Peer(target),
      inspect ? { ...idle, firstUp } : idle,
    );
    if (reason !== "refused") return { up, down, outcome: { kind: reason } };
    account.blocked("bittorrent");
    return { up, down, outcome: { kind: "blocked" } };
  } finally {
    idle.stop();
  }
}

/**
 * The client's first bytes, read on while they could still be the BitTorrent handshake; null
 * when they are it.
 */
async function firstUp(chunk: Uint8Array, client: Peer): Promise<Uint8Array | null> {
  let bytes = chunk;
  for (;;) {
    const verdict = bittorrentStream(bytes);
    if (verdict !== "more") return verdict === "yes" ? null : bytes;
    const next = await client.read();
    if (next === null) return bytes;
    bytes = concat(bytes, next);
  }
}
