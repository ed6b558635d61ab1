/**
 * What a connection refused in its handshake counts as, in the words of the metrics'
 * `result` label: a wrong credential, a probe relayed to the fallback, a garbled header, a
 * late one, or a tunnel a local opened ahead and never used.
 */
import { ProtocolError } from "../../protocol/errors.ts";
import type { Peer } from "../../common/net/peer.ts";
import type { SessionRefusal } from "../../common/ops/session_events.ts";
import { UnknownToken } from "./tunnel_auth.ts";

/**
 * The refusal of `peer` (from `client`), whose header failed with `error`; the bytes it sent
 * stay buffered for the fallback.
 *
 * @example server.events.refused(handshakeRefusal(client, error, peer, config.fallback !== undefined));
 */
export function handshakeRefusal(
  client: string,
  error: unknown,
  peer: Peer,
  hasFallback: boolean,
): SessionRefusal {
  const received = peer.takeBuffered();
  peer.unread(received);
  const result = error instanceof UnknownToken
    ? "auth_failed"
    : error instanceof Deno.errors.UnexpectedEof && received.length === 0
    ? "unused"
    : error instanceof ProtocolError || error instanceof Deno.errors.UnexpectedEof
    ? (hasFallback ? "fallback" : "bad_header")
    : error instanceof Deno.errors.TimedOut
    ? "handshake_timeout"
    : "error";
  return { client, user: "", result };
}
