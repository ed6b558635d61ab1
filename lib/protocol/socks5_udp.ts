/**
 * The SOCKS5 UDP request header (RFC 1928 §7): `RSV(2) FRAG(1) ATYP DST.ADDR DST.PORT DATA`,
 * carried by every datagram between an app and the local's UDP relay port, both ways.
 * Pure functions over bytes; a datagram arrives whole, so `null` means it is truncated.
 */
import { addressLength, decodeAddress, encodeAddress } from "./address.ts";
import type { Destination } from "./address.ts";
import type { Decoded } from "./errors.ts";

/** One SOCKS5 UDP datagram: where it goes (or came from), its fragment number and its data. */
export interface SocksDatagram {
  /** 0 for a whole datagram; anything else is a fragment, which the local drops. */
  frag: number;
  destination: Destination;
  payload: Uint8Array;
}

/** One datagram as views into its bytes: FRAG, the encoded address (ATYP ADDR PORT), the data. */
export interface RawSocksDatagram {
  frag: number;
  address: Uint8Array;
  payload: Uint8Array;
}

/**
 * Splits a datagram without decoding its address (see `AddressDecoder`); `null` when it ends
 * before its address does. RSV is not checked (as shadowsocks-rust and Dante do): some clients
 * send garbage there, and nothing depends on it.
 *
 * @throws {ProtocolError} with code 0x08 for an unknown address type, 0x01 for an empty domain
 * @example const raw = splitSocksDatagram(bytes); if (raw?.frag === 0) relay(raw.address, raw.payload);
 */
export function splitSocksDatagram(bytes: Uint8Array): RawSocksDatagram | null {
  if (bytes.length < 4) return null;
  const length = addressLength(bytes, 3);
  if (length === null) return null;
  return {
    frag: bytes[2]!,
    address: bytes.subarray(3, 3 + length),
    payload: bytes.subarray(3 + length),
  };
}

/**
 * Decodes a datagram; `null` when it ends before its address does. The payload is a view into
 * `bytes`, not a copy.
 *
 * @throws {ProtocolError} with code 0x08 for an unknown address type or a domain not in UTF-8
 * @example decodeSocksDatagram(bytes)?.value.payload
 */
export function decodeSocksDatagram(bytes: Uint8Array): Decoded<SocksDatagram> | null {
  const raw = splitSocksDatagram(bytes);
  if (!raw) return null;
  const destination = decodeAddress(raw.address)!.value;
  return { value: { frag: raw.frag, destination, payload: raw.payload }, consumed: bytes.length };
}

/**
 * Encodes a whole datagram (RSV 0, FRAG 0) from or to `destination`, ready for one `send`.
 *
 * @throws {ProtocolError} for a domain longer than 255 bytes or a port out of range
 * @example await udp.send(encodeSocksDatagram({ host: "127.0.0.1", port: 53 }, query), app)
 */
export function encodeSocksDatagram(destination: Destination, payload: Uint8Array): Uint8Array {
  return socksDatagram(encodeAddress(destination), payload);
}

/**
 * A whole datagram (RSV 0, FRAG 0) from an address already encoded (ATYP ADDR PORT, as a
 * Trojan frame carries it) and a payload.
 *
 * @example await udp.send(socksDatagram(frame.address, frame.payload), app)
 */
export function socksDatagram(address: Uint8Array, payload: Uint8Array): Uint8Array {
  const out = new Uint8Array(3 + address.length + payload.length);
  out.set(address, 3);
  out.set(payload, 3 + address.length);
  return out;
}
