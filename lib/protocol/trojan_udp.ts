/**
 * The Trojan UDP frame, one per datagram after a CMD 3 header:
 * `ATYP DST.ADDR DST.PORT LENGTH(2, big-endian) CRLF PAYLOAD`. Frames span TLS records, so the
 * decoder returns `null` until a frame is whole; a frame is at most {@linkcode MAX_FRAME}
 * bytes, which bounds what a reader ever buffers.
 */
import { decodeAddress, encodeAddress } from "./address.ts";
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
  const address = decodeAddress(bytes);
  if (!address) return null;
  const at = address.consumed;
  if (bytes.length < at + 4) return null;
  if (bytes[at + 2] !== 0x0d || bytes[at + 3] !== 0x0a) {
    throw new ProtocolError(
      `expected CRLF after the UDP frame's length, got bytes ${bytes[at + 2]} ${bytes[at + 3]}`,
    );
  }
  const length = (bytes[at] << 8) | bytes[at + 1];
  const end = at + 4 + length;
  if (bytes.length < end) return null;
  return {
    value: { destination: address.value, payload: bytes.subarray(at + 4, end) },
    consumed: end,
  };
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
  out.set(address);
  out[address.length] = payload.length >> 8;
  out[address.length + 1] = payload.length & 0xff;
  out[address.length + 2] = 0x0d;
  out[address.length + 3] = 0x0a;
  out.set(payload, address.length + 4);
  return out;
}
