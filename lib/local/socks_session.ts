/** A SOCKS5 client session on the local: handshake (RFC 1928/1929), then a tunnel. */
import {
  decodeGreeting,
  decodeRequest,
  decodeUserPass,
  encodeMethodSelection,
  encodeReply,
  encodeUserPassStatus,
  Method,
  Reply,
} from "../protocol/socks5.ts";
import type { Credentials, SocksRequest } from "../protocol/socks5.ts";
import { ProtocolError } from "../protocol/errors.ts";
import type { Peer } from "../common/peer.ts";
import { timingSafeEqual } from "../common/timing_safe.ts";
import { TunnelError } from "./tunnel.ts";

/** What the SOCKS5 handshake needs from the local's settings. */
export interface SocksSettings {
  /** When set, clients must log in with this username and password (RFC 1929). */
  auth?: Credentials;
}

/** Thrown when a SOCKS5 client is refused; the reply has been sent. */
export class SocksRefused extends Error {
  constructor(message: string) {
    super(message);
    this.name = "SocksRefused";
  }
}

/** The REP code that tells an app why its tunnel could not open. */
export function replyForTunnelError(error: TunnelError): number {
  switch (error.kind) {
    case "refused":
      return Reply.connectionRefused;
    case "unreachable":
    case "timeout":
      return Reply.hostUnreachable;
    default:
      return Reply.generalFailure;
  }
}

/**
 * Runs the SOCKS5 handshake up to the request and returns it (command and destination). The
 * caller dispatches on the command and answers with {@linkcode encodeReply}, refusals included.
 *
 * @throws {SocksRefused} after sending the refusal (bad login, unsupported address type)
 * @throws {ProtocolError} for bytes that are not SOCKS5
 * @example const { command, destination } = await socksHandshake(client, { auth });
 */
export async function socksHandshake(client: Peer, settings: SocksSettings): Promise<SocksRequest> {
  const methods = await client.readFrame(decodeGreeting);
  const wanted = settings.auth ? Method.userPass : Method.noAuth;
  if (!methods.includes(wanted)) {
    await client.write(encodeMethodSelection(Method.noAcceptable));
    throw new SocksRefused(
      settings.auth
        ? "the client does not offer username/password login"
        : "the client requires a login",
    );
  }
  await client.write(encodeMethodSelection(wanted));
  if (settings.auth) {
    const given = await client.readFrame(decodeUserPass);
    const ok = timingSafeEqual(given.username, settings.auth.username) &&
      timingSafeEqual(given.password, settings.auth.password);
    await client.write(encodeUserPassStatus(ok));
    if (!ok) throw new SocksRefused(`wrong SOCKS5 login for user "${given.username}"`);
  }
  try {
    return await client.readFrame(decodeRequest);
  } catch (error) {
    if (error instanceof ProtocolError && error.code !== undefined) {
      await client.write(encodeReply(error.code)).catch(() => {});
      throw new SocksRefused(error.message);
    }
    throw error;
  }
}
