/**
 * What a connection without a valid tunnel header gets: relayed, every byte it sent included,
 * to the `--fallback` web site, or closed after a short random pause.
 */
import { formatHostPort } from "../protocol/address.ts";
import type { Destination } from "../protocol/address.ts";
import { ProtocolError } from "../protocol/errors.ts";
import { Peer } from "../common/peer.ts";
import { relay } from "../common/relay.ts";
import { watchIdle } from "../common/idle.ts";
import { logger } from "../common/logging.ts";
import { UnknownToken } from "./tunnel_auth.ts";

const log = logger("remote");

/**
 * Answers `peer` (from `client`), whose header failed with `error`: a probe or a garbled
 * header goes to `fallback` when there is one; anything else is closed. Never throws.
 *
 * A relay to the fallback with no traffic for `idleTimeoutMs` (0: never) is closed.
 *
 * @example await refuseHeader(peer, "203.0.113.7:40000", error, config.fallback, 300_000);
 */
export async function refuseHeader(
  peer: Peer,
  client: string,
  error: unknown,
  fallback: Destination | undefined,
  idleTimeoutMs = 0,
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
    fallback && (error instanceof ProtocolError || error instanceof Deno.errors.UnexpectedEof)
  ) {
    log.info("{client}: {why}; relaying to the fallback {fallback}", {
      client,
      why,
      fallback: formatHostPort(fallback),
    });
    await relayToFallback(peer, fallback, idleTimeoutMs);
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

async function relayToFallback(
  peer: Peer,
  fallback: Destination,
  idleTimeoutMs: number,
): Promise<void> {
  try {
    const site = await Deno.connect({ hostname: fallback.host, port: fallback.port });
    site.setNoDelay(true);
    const idle = watchIdle(idleTimeoutMs);
    await relay(peer, new Peer(site), idle);
    idle.stop();
  } catch (dialError) {
    log.warn("fallback {fallback} failed: {error}", {
      fallback: formatHostPort(fallback),
      error: dialError,
    });
    peer.close();
  }
}
