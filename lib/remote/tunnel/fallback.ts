/**
 * What a connection without a valid tunnel header gets: relayed, every byte it sent included,
 * to the `--fallback` web site, or closed after a short random pause. Fallback relays idle out
 * (and, still counted by the handshake gate, are capped per source); a user's token never
 * reaches the site.
 */
import { formatHostPort } from "../../protocol/address.ts";
import type { Destination } from "../../protocol/address.ts";
import { ProtocolError } from "../../protocol/errors.ts";
import { Peer } from "../../common/net/peer.ts";
import { relay } from "../../common/net/relay.ts";
import { watchIdle } from "../../common/net/idle.ts";
import { logger } from "../../common/ops/logging.ts";
import { ScrubbedPeer } from "./token_scrub.ts";
import type { IsKnownToken } from "./token_scrub.ts";
import { UnknownToken } from "./tunnel_auth.ts";

const log = logger("remote");

/**
 * The ALPN the remote selects, as the site it stands in front of would. `--fallback` is a
 * plain TCP web server reached behind the remote's TLS, so it speaks HTTP/1.1 (HTTP/2 without
 * TLS needs prior knowledge that browsers never have): a browser or a prober offering `h2` and
 * `http/1.1` gets `http/1.1`, as from nginx serving that site with HTTP/1.1 only, and then the
 * site's own answer. Trojan clients ignore the selection. Without a fallback the port still
 * looks like such a site.
 */
export const SITE_ALPN = ["http/1.1"];

/** Where and how connections without a valid header are relayed. */
export interface FallbackOptions {
  site: Destination;
  /** A relay with no traffic either way for this long is closed; 0 for never. */
  idleTimeoutMs: number;
  /** Tokens that must not reach the site (users' keys, now and recently). */
  isKnownToken: IsKnownToken;
}

/** Relays `peer` (its buffered bytes first, any user's token scrubbed) to the site. */
async function relayToFallback(peer: Peer, fallback: FallbackOptions): Promise<void> {
  const { site, idleTimeoutMs, isKnownToken } = fallback;
  try {
    const conn = await Deno.connect({ hostname: site.host, port: site.port });
    conn.setNoDelay(true);
    const idle = watchIdle(idleTimeoutMs);
    try {
      await relay(new ScrubbedPeer(peer, isKnownToken), new Peer(conn), idle);
    } finally {
      idle.stop();
    }
  } catch (dialError) {
    log.warn("fallback {fallback} failed: {error}", {
      fallback: formatHostPort(site),
      error: dialError,
    });
    peer.close();
  }
}

/**
 * Answers `peer` (from `client`), whose header failed with `error`: a probe, a garbled or late
 * header goes to `fallback` when there is one; anything else is closed. Never throws.
 *
 * @example await refuseHeader(peer, "203.0.113.7:40000", error, fallback);
 */
export async function refuseHeader(
  peer: Peer,
  client: string,
  error: unknown,
  fallback: FallbackOptions | undefined,
): Promise<void> {
  const received = peer.takeBuffered();
  if (received.length === 0 && error instanceof Deno.errors.UnexpectedEof) {
    // A tunnel a local opened ahead and never used: nothing was said, so nothing to refuse.
    log.debug("{client}: closed before sending anything", { client });
    peer.close();
    return;
  }
  peer.unread(received);
  const why = describe(error);
  if (
    fallback && (error instanceof ProtocolError || error instanceof Deno.errors.UnexpectedEof ||
      error instanceof Deno.errors.TimedOut)
  ) {
    log.info("{client}: {why}; relaying to the fallback {fallback}", {
      client,
      why,
      fallback: formatHostPort(fallback.site),
    });
    await relayToFallback(peer, fallback);
    return;
  }
  log.info("{client}: {why}; closing", { client, why });
  // A short random pause, so a prober cannot time how many bytes the parser wanted.
  await new Promise((r) => setTimeout(r, 100 + Math.random() * 400));
  peer.close();
}

function describe(error: unknown): string {
  return error instanceof UnknownToken
    ? "unknown credential"
    : error instanceof ProtocolError
    ? `not a tunnel header (${error.message})`
    : error instanceof Deno.errors.TimedOut
    ? "handshake timed out"
    : `handshake failed (${(error as Error).message})`;
}
