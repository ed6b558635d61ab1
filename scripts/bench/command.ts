/** The 9-byte command the load generator sends to the sink, and raw socket helpers. */
export { readExactly, writeAll } from "../../lib/common/net/conn_io.ts";

/** Read/write size on both ends. */
export const CHUNK = 256 * 1024;
/** One op byte and a 64-bit big-endian length. */
export const COMMAND_SIZE = 9;

/** What the sink does before it falls back to echoing. */
export const Op = {
  /** Send `length` bytes to the client. */
  download: 0x44,
  /** Read `length` bytes, then answer one byte. */
  upload: 0x55,
  /** Answer one byte at once (first-byte latency). */
  ping: 0x50,
  /** Echo only (held tunnels). */
  echo: 0x45,
} as const;

/** Encodes a command. @example encodeCommand(Op.download, 1 << 30) */
export function encodeCommand(op: number, length = 0): Uint8Array {
  const bytes = new Uint8Array(COMMAND_SIZE);
  bytes[0] = op;
  new DataView(bytes.buffer).setBigUint64(1, BigInt(length));
  return bytes;
}

/** Decodes a command. */
export function decodeCommand(bytes: Uint8Array): { op: number; length: number } {
  return {
    op: bytes[0]!,
    length: Number(new DataView(bytes.buffer, bytes.byteOffset).getBigUint64(1)),
  };
}
