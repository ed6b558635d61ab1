/**
 * The Trojan UDP frame, one per datagram after a CMD 3 header:
 * `ATYP DST.ADDR DST.PORT LENGTH(2, big-endian) CRLF PAYLOAD`. Frames span TLS records, so the
 * decoder returns `null` until a frame is whole; a frame is at most {@linkcode MAX_FRAME}
 * bytes, which bounds what a reader ever buffers.
 */
import { addressLength, decodeAddress, encodeAddress } from "./address.ts";
import type { Destination } from "./address.ts";
import { ProtocolError } from "./errors.ts";
import type { Decoded } from "./errors.ts";

/**
 * Largest datagram payload relayed, as Xray, trojan-go and trojan cap it; a larger frame is
 * decoded (so the stream stays in step) and then dropped by the caller, never fatal.
 */
export const MAX_UDP_PAYLOAD = 8192;

/** Largest frame on the wire: a 255-byte domain and a 65535-byte LENGTH. */
export const MAX_FRAME = 1 + 1 + 255 + 2 + 2 + 2 + 65535;

/** One datagram in the tunnel: its destination (or, coming back, its source) and payload. */
export interface TrojanDatagram {
  destination: Destination;
  payload: Uint8Array;
}

/**
 * Decodes one frame at the start of `bytes`; `null` while more bytes are needed. The payload is
 * a view into `bytes`. Its length may exceed {@linkcode MAX_UDP_PAYLOAD}: check before relaying.
 *
 * @throws {ProtocolError} for an unknown address type (code 0x08), a zero-length domain or a
 *   missing CRLF: the stream cannot be followed past such a frame
 * @example const datagram = await tunnel.readFrame(decodeTrojanFrame);
 */
export function decodeTrojanFrame(bytes: Uint8Array): Decoded<TrojanDatagram> | null {
  const frame = splitTrojanFrame(bytes);
  if (!frame) return null;
  const destination = decodeAddress(frame.address)!.value;
  return { value: { destination, payload: frame.payload }, consumed: frame.end };
}

/** One frame as views into the wire bytes: the encoded address (ATYP ADDR PORT), the payload. */
export interface RawTrojanFrame {
  address: Uint8Array;
  payload: Uint8Array;
  /** Where the frame ends in the bytes given. */
  end: number;
}

/**
 * Finds the frame starting at `offset` without decoding its address (see `AddressDecoder`);
 * `null` while more bytes are needed. Refuses what {@linkcode decodeTrojanFrame} refuses, but
 * for a domain that is not UTF-8, which only decoding the address finds.
 *
 * @throws {ProtocolError} for an unknown address type, a zero-length domain or a missing CRLF
 * @example for (let f; (f = splitTrojanFrame(bytes, at)); at = f.end) relay(f.address, f.payload);
 */
export function splitTrojanFrame(bytes: Uint8Array, offset = 0): RawTrojanFrame | null {
  const length = addressLength(bytes, offset);
  if (length === null) return null;
  const at = offset + length;
  if (bytes.length < at + 4) return null;
  if (bytes[at + 2] !== 0x0d || bytes[at + 3] !== 0x0a) {
    throw new ProtocolError(
      `expected CRLF after the UDP frame's length, got bytes ${bytes[at + 2]} ${bytes[at + 3]}`,
    );
  }
  const end = at + 4 + ((bytes[at]! << 8) | bytes[at + 1]!);
  if (bytes.length < end) return null;
  return { address: bytes.subarray(offset, at), payload: bytes.subarray(at + 4, end), end };
}

/**
 * Writes one frame from an encoded address and a payload (at most 65535 bytes) into `out` at
 * `at`, which must have room for `address.length + 4 + payload.length` bytes.
 *
 * @returns where the frame ends in `out`
 * @example const end = writeTrojanFrame(buffer, used, address, payload);
 */
export function writeTrojanFrame(
  out: Uint8Array,
  at: number,
  address: Uint8Array,
  payload: Uint8Array,
): number {
  out.set(address, at);
  at += address.length;
  out[at] = payload.length >> 8;
  out[at + 1] = payload.length & 0xff;
  out[at + 2] = 0x0d;
  out[at + 3] = 0x0a;
  out.set(payload, at + 4);
  return at + 4 + payload.length;
}

/**
 * Encodes one frame, ready for one write (append it to the CMD 3 header for the first).
 *
 * @throws {ProtocolError} for a payload over 65535 bytes, a domain over 255 bytes or a bad port
 * @example await tunnel.write(encodeTrojanFrame({ host: "::1", port: 53 }, query));
 */
export function encodeTrojanFrame(destination: Destination, payload: Uint8Array): Uint8Array {
  if (payload.length > 0xffff) {
    throw new ProtocolError(`expected a UDP payload of at most 65535 bytes, got ${payload.length}`);
  }
  const address = encodeAddress(destination);
  const out = new Uint8Array(address.length + 4 + payload.length);
  writeTrojanFrame(out, 0, address, payload);
  return out;
}
