/**
 * Trojan request header codec:
 * `hex(SHA224(credential)) CRLF CMD ATYP DST.ADDR DST.PORT CRLF payload…`.
 */
import { createHash } from "node:crypto";
import { decodeAddress, encodeAddress } from "./address.ts";
import type { Destination } from "./address.ts";
import { ProtocolError } from "./errors.ts";
import type { Decoded } from "./errors.ts";

/** Length of the hex SHA-224 token that opens every request. */
export const TOKEN_LENGTH = 56;

/** Commands as in SOCKS5. */
export const TrojanCommand = { connect: 0x01, udpAssociate: 0x03 } as const;

/**
 * The 56-character wire token for a credential (`NAME:PASSWORD` for SwiftProxy accounts).
 *
 * @example trojanToken("demo:secret").length // 56
 */
export function trojanToken(credential: string): string {
  return createHash("sha224").update(credential).digest("hex");
}

/** A decoded request header. */
export interface TrojanHeader {
  token: string;
  command: number;
  destination: Destination;
}

const HEX = /^[0-9a-f]{56}$/;
/** Made once, not per header: the token is 56 ASCII hex digits. */
const TOKEN_DECODER = new TextDecoder();
const TOKEN_ENCODER = new TextEncoder();

/**
 * Decodes a request header; `null` while more bytes are needed.
 *
 * @throws {ProtocolError} when the token is not 56 lowercase hex digits, a CRLF is missing,
 *   the command is not CONNECT or UDP ASSOCIATE, or the address type is unknown
 */
export function decodeTrojanHeader(bytes: Uint8Array): Decoded<TrojanHeader> | null {
  const prefix = Math.min(bytes.length, TOKEN_LENGTH);
  for (let i = 0; i < prefix; i++) {
    const c = bytes[i]!;
    if (!((c >= 0x30 && c <= 0x39) || (c >= 0x61 && c <= 0x66))) {
      throw new ProtocolError(`expected a lowercase hex token, got byte ${c} at offset ${i}`);
    }
  }
  if (bytes.length < TOKEN_LENGTH + 4) return null;
  if (bytes[56] !== 0x0d || bytes[57] !== 0x0a) {
    throw new ProtocolError("expected CRLF after the 56-byte token");
  }
  const command = bytes[58];
  if (command !== TrojanCommand.connect && command !== TrojanCommand.udpAssociate) {
    throw new ProtocolError(`expected command 1 or 3, got ${command}`);
  }
  const address = decodeAddress(bytes, 59);
  if (!address) return null;
  const end = 59 + address.consumed;
  if (bytes.length < end + 2) return null;
  if (bytes[end] !== 0x0d || bytes[end + 1] !== 0x0a) {
    throw new ProtocolError("expected CRLF after the destination");
  }
  const token = TOKEN_DECODER.decode(bytes.subarray(0, TOKEN_LENGTH));
  if (!HEX.test(token)) throw new ProtocolError("expected a 56-digit hex token");
  return { value: { token, command, destination: address.value }, consumed: end + 2 };
}

/** Encodes a request header followed by `payload`, ready for one write. */
export function encodeTrojanHeader(
  header: TrojanHeader,
  payload: Uint8Array = new Uint8Array(),
): Uint8Array {
  const address = encodeAddress(header.destination);
  const out = new Uint8Array(TOKEN_LENGTH + 3 + address.length + 2 + payload.length);
  TOKEN_ENCODER.encodeInto(header.token, out);
  out.set([0x0d, 0x0a, header.command], TOKEN_LENGTH);
  out.set(address, TOKEN_LENGTH + 3);
  out.set([0x0d, 0x0a], TOKEN_LENGTH + 3 + address.length);
  out.set(payload, TOKEN_LENGTH + 5 + address.length);
  return out;
}
