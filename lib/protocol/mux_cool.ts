/**
 * Mux.Cool, the frame format V2Ray and Xray clients send after a Trojan (or VMess, VLESS)
 * header for `v1.mux.cool:9527` when their "Mux" switch is on (v2ray-core `common/mux/frame.go`):
 *
 * ```
 * LENGTH(2)  metadata length, big-endian, 4 to 512
 * ID(2) STATUS(1) OPTION(1)                       every frame
 * NETWORK(1) PORT(2) ATYP(1) ADDR                 New; Keep of a UDP session (Xray only)
 * GLOBAL_ID(8)                                    New UDP with data (Xray's XUDP, optional)
 * DATA_LENGTH(2) DATA                             when OPTION has 0x01
 * ```
 *
 * The address is port first, and its types are not SOCKS5's: 1 IPv4, 2 domain, 3 IPv6. Unknown
 * OPTION bits and metadata bytes past the fields read are ignored, as V2Ray and Xray do (Xray
 * puts its XUDP id and padding there). A frame is buffered until whole: at most
 * {@linkcode MAX_MUX_FRAME} bytes.
 */
import { encodeAddress, formatIPv6 } from "./address.ts";
import type { Destination } from "./address.ts";
import { ProtocolError } from "./errors.ts";
import type { Decoded } from "./errors.ts";

/** The Trojan destination that announces Mux.Cool frames (the port is not checked by V2Ray). */
export const MUX_COOL = { host: "v1.mux.cool", port: 9527 } as const;

/** Frame statuses: a sub-connection opens (New), carries data (Keep), closes (End). */
export const MuxStatus = { new: 0x01, keep: 0x02, end: 0x03, keepAlive: 0x04 } as const;
/** One of {@linkcode MuxStatus}. */
export type MuxStatus = typeof MuxStatus[keyof typeof MuxStatus];

/** OPTION bits: data follows the metadata; the session ended in error (End frames). */
export const MuxOption = { data: 0x01, error: 0x02 } as const;

/** Largest metadata V2Ray and Xray accept (`invalid metalen` above it). */
export const MAX_MUX_METADATA = 512;

/** Largest frame on the wire: the length field, the largest metadata, a 65535-byte DATA. */
export const MAX_MUX_FRAME = 2 + MAX_MUX_METADATA + 2 + 0xffff;

/** Where a sub-connection goes (New), or where one UDP datagram goes or came from (Keep). */
export interface MuxTarget extends Destination {
  network: "tcp" | "udp";
}

/** One Mux.Cool frame. */
export interface MuxFrame {
  /** Sub-connection id, 0 to 65535, chosen by the client; V2Ray counts up from 1. */
  id: number;
  status: MuxStatus;
  /** OPTION 0x02: the sender's side of the session failed (meaningful on End). */
  error: boolean;
  /** On New, always; on Keep, only for a UDP datagram with its own address (Xray). */
  target?: MuxTarget;
  /** Xray's XUDP id on a New UDP frame with data; absent when missing or all zero. */
  globalId?: Uint8Array;
  /** Present exactly when OPTION 0x01 is set; may be empty. A view into the decoded bytes. */
  data?: Uint8Array;
}

const NETWORK = { tcp: 0x01, udp: 0x02 } as const;
/** SOCKS5 address types (in `encodeAddress`'s output) to Mux.Cool's. */
const SOCKS_TO_MUX_ATYP: Record<number, number> = { 0x01: 0x01, 0x03: 0x02, 0x04: 0x03 };
const GLOBAL_ID_LENGTH = 8;
const STRICT_UTF8 = new TextDecoder("utf-8", { fatal: true });

/**
 * Decodes one frame at the start of `bytes`; `null` while more bytes are needed.
 *
 * @throws {ProtocolError} for metadata shorter than 4 bytes (8 on New) or longer than 512, an
 *   unknown status, network or address type, an empty or non-UTF-8 domain, or an address that
 *   runs past the metadata: the stream cannot be followed past such a frame
 * @example const frame = await tunnel.readFrame(decodeMuxFrame);
 */
export function decodeMuxFrame(bytes: Uint8Array): Decoded<MuxFrame> | null {
  if (bytes.length < 2) return null;
  const metaLength = (bytes[0]! << 8) | bytes[1]!;
  if (metaLength < 4 || metaLength > MAX_MUX_METADATA) {
    throw new ProtocolError(`expected Mux.Cool metadata of 4 to 512 bytes, got ${metaLength}`);
  }
  const metaEnd = 2 + metaLength;
  if (bytes.length < metaEnd) return null;
  const status = bytes[4]!;
  if (status < MuxStatus.new || status > MuxStatus.keepAlive) {
    throw new ProtocolError(`expected Mux.Cool status 1 to 4, got ${status}`);
  }
  const option = bytes[5]!;
  const frame: MuxFrame = {
    id: (bytes[2]! << 8) | bytes[3]!,
    status: status as MuxStatus,
    error: (option & MuxOption.error) !== 0,
  };
  const keepUdp = status === MuxStatus.keep && metaLength > 4 && bytes[6] === NETWORK.udp;
  if (status === MuxStatus.new || keepUdp) {
    if (metaLength < 8) {
      throw new ProtocolError(`expected Mux.Cool metadata of 8 bytes or more, got ${metaLength}`);
    }
    const network = bytes[6];
    if (network !== NETWORK.tcp && network !== NETWORK.udp) {
      throw new ProtocolError(`expected Mux.Cool network 1 (TCP) or 2 (UDP), got ${network}`);
    }
    const address = decodeMuxAddress(bytes, 7, metaEnd);
    frame.target = { network: network === NETWORK.tcp ? "tcp" : "udp", ...address.value };
    const rest = 7 + address.consumed;
    if (
      status === MuxStatus.new && network === NETWORK.udp && (option & MuxOption.data) &&
      metaEnd - rest >= GLOBAL_ID_LENGTH
    ) {
      const globalId = bytes.slice(rest, rest + GLOBAL_ID_LENGTH);
      if (globalId.some((b) => b !== 0)) frame.globalId = globalId;
    }
  }
  if (!(option & MuxOption.data)) return { value: frame, consumed: metaEnd };
  if (bytes.length < metaEnd + 2) return null;
  const end = metaEnd + 2 + ((bytes[metaEnd]! << 8) | bytes[metaEnd + 1]!);
  if (bytes.length < end) return null;
  frame.data = bytes.subarray(metaEnd + 2, end);
  return { value: frame, consumed: end };
}

/** Decodes PORT ATYP ADDR at `at`, which must end by `end`. */
function decodeMuxAddress(bytes: Uint8Array, at: number, end: number): Decoded<Destination> {
  const atyp = bytes[at + 2];
  let length: number;
  if (atyp === 0x01) length = 4;
  else if (atyp === 0x03) length = 16;
  // The domain's length byte may itself lie past the metadata: then it counts as one byte over.
  else if (atyp === 0x02) length = at + 3 < end ? 1 + bytes[at + 3]! : 1;
  else throw new ProtocolError(`expected Mux.Cool address type 1, 2 or 3, got ${atyp}`);
  const over = at + 3 + length - end;
  if (over > 0) {
    throw new ProtocolError(`expected the Mux.Cool address within the metadata, ${over} over`);
  }
  const port = (bytes[at]! << 8) | bytes[at + 1]!;
  const addr = bytes.subarray(at + 3, at + 3 + length);
  let host: string;
  if (atyp === 0x01) host = addr.join(".");
  else if (atyp === 0x03) {
    host = formatIPv6(Array.from({ length: 8 }, (_, i) => (addr[2 * i]! << 8) | addr[2 * i + 1]!));
  } else if (length === 1) throw new ProtocolError("expected a domain of 1 to 255 bytes, got 0");
  else {
    try {
      host = STRICT_UTF8.decode(addr.subarray(1));
    } catch {
      throw new ProtocolError("expected a domain in UTF-8, got other bytes");
    }
  }
  return { value: { host, port }, consumed: 3 + length };
}

/**
 * Encodes one frame, ready for one write (append it to the Trojan header for the first).
 *
 * @throws {ProtocolError} for a New frame without a target, a target on End or KeepAlive or a
 *   TCP one on Keep (no peer would read it), a global id not 8 bytes or not on a New UDP frame
 *   with data (where Xray reads it),
 *   data over 65535 bytes, an id out of range, a domain over 255 bytes or a bad port
 * @example
 * ```ts
 * const clientHello = new Uint8Array([0x16, 0x03, 0x01]);
 * const open = encodeMuxFrame({
 *   id: 1, status: MuxStatus.new, error: false,
 *   target: { network: "tcp", host: "example.com", port: 443 }, data: clientHello,
 * });
 * ```
 */
export function encodeMuxFrame(frame: MuxFrame): Uint8Array {
  const { id, status, target, globalId, data } = frame;
  if (!Number.isInteger(id) || id < 0 || id > 0xffff) {
    throw new ProtocolError(`expected a Mux.Cool session id from 0 to 65535, got ${id}`);
  }
  const isNew = status === MuxStatus.new;
  const mayCarry = isNew || (status === MuxStatus.keep && target?.network === "udp");
  if ((isNew && !target) || (target && !mayCarry)) {
    throw new ProtocolError(`a Mux.Cool target goes on New, or on Keep for UDP; status ${status}`);
  }
  if (globalId && (!isNew || target?.network !== "udp" || !data || globalId.length !== 8)) {
    throw new ProtocolError("expected a global id of 8 bytes, on a New UDP frame with data only");
  }
  if (data && data.length > 0xffff) {
    throw new ProtocolError(`expected Mux.Cool data of at most 65535 bytes, got ${data.length}`);
  }
  // encodeAddress checks the port and the domain; it writes ATYP ADDR PORT in SOCKS5's order.
  const socks = target ? encodeAddress(target) : new Uint8Array();
  const metaLength = 4 + (target ? 1 + socks.length : 0) + (globalId?.length ?? 0);
  const out = new Uint8Array(2 + metaLength + (data ? 2 + data.length : 0));
  out.set([metaLength >> 8, metaLength & 0xff, id >> 8, id & 0xff, status]);
  out[5] = (data ? MuxOption.data : 0) | (frame.error ? MuxOption.error : 0);
  let at = 6;
  if (target) {
    const port = socks.subarray(socks.length - 2);
    out.set([NETWORK[target.network], port[0]!, port[1]!, SOCKS_TO_MUX_ATYP[socks[0]!]!], at);
    out.set(socks.subarray(1, socks.length - 2), at + 4);
    at += 1 + socks.length;
  }
  if (globalId) {
    out.set(globalId, at);
    at += globalId.length;
  }
  if (data) {
    out.set([data.length >> 8, data.length & 0xff], at);
    out.set(data, at + 2);
  }
  return out;
}
