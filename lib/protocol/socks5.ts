/**
 * SOCKS5 codec (RFC 1928) with username/password authentication (RFC 1929).
 * Pure functions over bytes: decoders return `null` while more bytes are needed.
 */
import { decodeAddress, encodeAddress } from "./address.ts";
import type { Destination } from "./address.ts";
import { ProtocolError } from "./errors.ts";
import type { Decoded } from "./errors.ts";

export const SOCKS_VERSION = 0x05;
export const AUTH_VERSION = 0x01;

/** Authentication methods (RFC 1928 §3). */
export const Method = { noAuth: 0x00, userPass: 0x02, noAcceptable: 0xff } as const;

/** Commands (RFC 1928 §4). */
export const Command = { connect: 0x01, bind: 0x02, udpAssociate: 0x03 } as const;

/** Reply codes (RFC 1928 §6). */
export const Reply = {
  succeeded: 0x00,
  generalFailure: 0x01,
  notAllowed: 0x02,
  networkUnreachable: 0x03,
  hostUnreachable: 0x04,
  connectionRefused: 0x05,
  ttlExpired: 0x06,
  commandNotSupported: 0x07,
  addressTypeNotSupported: 0x08,
} as const;

/**
 * Decodes the client greeting: VER NMETHODS METHODS….
 *
 * @throws {ProtocolError} when VER is not 5 or no method is offered
 */
export function decodeGreeting(bytes: Uint8Array): Decoded<number[]> | null {
  if (bytes.length < 2) return null;
  if (bytes[0] !== SOCKS_VERSION) {
    throw new ProtocolError(`expected SOCKS version 5, got ${bytes[0]}`);
  }
  const count = bytes[1]!;
  if (count === 0) throw new ProtocolError("expected at least one authentication method, got 0");
  if (bytes.length < 2 + count) return null;
  return { value: Array.from(bytes.subarray(2, 2 + count)), consumed: 2 + count };
}

/** Encodes a client greeting offering `methods` (the client side, used by tests and benchmarks). */
export function encodeGreeting(methods: number[]): Uint8Array {
  if (methods.length === 0 || methods.length > 255) {
    throw new ProtocolError(`expected 1 to 255 methods, got ${methods.length}`);
  }
  return Uint8Array.of(SOCKS_VERSION, methods.length, ...methods);
}

/** Encodes the server's method selection: VER METHOD. */
export function encodeMethodSelection(method: number): Uint8Array {
  return Uint8Array.of(SOCKS_VERSION, method);
}

/** Username and password sent by a client (RFC 1929). */
export interface Credentials {
  username: string;
  password: string;
}

/**
 * Decodes an RFC 1929 request: VER ULEN UNAME PLEN PASSWD.
 *
 * @throws {ProtocolError} when VER is not 1
 */
export function decodeUserPass(bytes: Uint8Array): Decoded<Credentials> | null {
  if (bytes.length < 2) return null;
  if (bytes[0] !== AUTH_VERSION) {
    throw new ProtocolError(`expected username/password version 1, got ${bytes[0]}`);
  }
  const userEnd = 2 + bytes[1]!;
  if (bytes.length < userEnd + 1) return null;
  const passEnd = userEnd + 1 + bytes[userEnd]!;
  if (bytes.length < passEnd) return null;
  const text = new TextDecoder();
  return {
    value: {
      username: text.decode(bytes.subarray(2, userEnd)),
      password: text.decode(bytes.subarray(userEnd + 1, passEnd)),
    },
    consumed: passEnd,
  };
}

/** Encodes an RFC 1929 request (the client side, used by tests and benchmarks). */
export function encodeUserPass({ username, password }: Credentials): Uint8Array {
  const user = new TextEncoder().encode(username);
  const pass = new TextEncoder().encode(password);
  if (user.length > 255 || pass.length > 255) {
    throw new ProtocolError("expected a username and password of at most 255 bytes each");
  }
  return Uint8Array.of(AUTH_VERSION, user.length, ...user, pass.length, ...pass);
}

/** Encodes the RFC 1929 status: 0 for success. */
export function encodeUserPassStatus(ok: boolean): Uint8Array {
  return Uint8Array.of(AUTH_VERSION, ok ? 0x00 : 0x01);
}

/** A SOCKS5 request: the command and its destination. */
export interface SocksRequest {
  command: number;
  destination: Destination;
}

/**
 * Decodes a request: VER CMD RSV ATYP DST.ADDR DST.PORT.
 *
 * @throws {ProtocolError} with the REP code to answer (0x08 unknown address type, 0x01 otherwise)
 */
export function decodeRequest(bytes: Uint8Array): Decoded<SocksRequest> | null {
  if (bytes.length < 4) return null;
  if (bytes[0] !== SOCKS_VERSION) {
    throw new ProtocolError(`expected SOCKS version 5 in the request, got ${bytes[0]}`, 0x01);
  }
  const address = decodeAddress(bytes, 3);
  if (!address) return null;
  return {
    value: { command: bytes[1]!, destination: address.value },
    consumed: 3 + address.consumed,
  };
}

/** Encodes a request (the client side, used by tests and benchmarks). */
export function encodeRequest({ command, destination }: SocksRequest): Uint8Array {
  const address = encodeAddress(destination);
  const out = new Uint8Array(3 + address.length);
  out.set([SOCKS_VERSION, command, 0x00]);
  out.set(address, 3);
  return out;
}

/** Encodes a reply: VER REP RSV BND.ADDR BND.PORT (bound address 0.0.0.0:0 by default). */
export function encodeReply(
  reply: number,
  bound: Destination = { host: "0.0.0.0", port: 0 },
): Uint8Array {
  const address = encodeAddress(bound);
  const out = new Uint8Array(3 + address.length);
  out.set([SOCKS_VERSION, reply, 0x00]);
  out.set(address, 3);
  return out;
}

/** A server's reply to a request: REP and the bound address. */
export interface SocksReply {
  reply: number;
  bound: Destination;
}

/**
 * Decodes a reply: VER REP RSV ATYP BND.ADDR BND.PORT (the client side, used by tests).
 *
 * @throws {ProtocolError} when VER is not 5 or the address type is unknown
 */
export function decodeReply(bytes: Uint8Array): Decoded<SocksReply> | null {
  if (bytes.length < 4) return null;
  if (bytes[0] !== SOCKS_VERSION) {
    throw new ProtocolError(`expected SOCKS version 5 in the reply, got ${bytes[0]}`);
  }
  const address = decodeAddress(bytes, 3);
  if (!address) return null;
  return { value: { reply: bytes[1]!, bound: address.value }, consumed: 3 + address.consumed };
}
