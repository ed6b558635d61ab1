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
} from "../../protocol/socks5.ts";
import type { SocksRequest } from "../../protocol/socks5.ts";
import { ProtocolError } from "../../protocol/errors.ts";
import type { Peer } from "../../common/net/peer.ts";
import { TunnelError } from "../tunnel/tunnel.ts";
import type { LoginCheck } from "./client_login.ts";

/** What the SOCKS5 handshake needs from the local's settings. */
export interface SocksSettings {
  /** When set, clients must log in (RFC 1929) with a username and password this accepts. */
  login?: LoginCheck;
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
    case "rejected":
      return Reply.notAllowed;
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
  const wanted = settings.login ? Method.userPass : Method.noAuth;
  if (!methods.includes(wanted)) {
    await client.write(encodeMethodSelection(Method.noAcceptable));
    throw new SocksRefused(
      settings.login
        ? "the client does not offer username/password login"
        : "the client requires a login",
    );
  }
  await client.write(encodeMethodSelection(wanted));
  if (settings.login) {
    const given = await client.readFrame(decodeUserPass);
    const ok = settings.login(given.username, given.password);
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
