/**
 * UDP sockets for both programs, through `Deno.listenDatagram`.
 *
 * Why not `node:dgram` (which needs no unstable flag): it cannot do what it was tried for. Its
 * `recvBufferSize` is not SO_RCVBUF in Deno 2.9.6 (`ss -m` still shows the 208 KiB default)
 * but the size of the buffer it allocates for every receive: with 4 MiB it received about
 * 800 datagrams/s, which fits the "stall" first seen (1 161 datagrams, then nothing more, at
 * 10 000/s). Without it, it kept up about as well as `Deno.listenDatagram` (29 609 of 30 000
 * at 10 000/s from a paced Python sender), so there is nothing to gain by switching; neither
 * API can raise SO_RCVBUF, and what keeps the kernel's buffer from overflowing is a cheap path
 * per datagram (`udp_frames.ts`). `Deno.listenDatagram` needs
 * the unstable `net` feature: deno.json enables it (`"unstable": ["net"]`), which `deno run`,
 * `deno test` and `deno compile` (into the binary's metadata) all read, so the tasks, the test
 * harness and the compiled programs agree without a flag (tests/ship/compile_test.ts checks).
 */
import { encodeAddress, formatHostPort } from "../../protocol/address.ts";
import type { Destination } from "../../protocol/address.ts";

/** Largest datagram a socket receives in one call (the IPv4 UDP maximum, rounded up). */
export const MAX_DATAGRAM = 65536;

/**
 * Binds a UDP socket on `host` (port 0 for any free one). `"::"` is dual-stack on Linux,
 * macOS and Windows alike, so one socket reaches IPv4 and IPv6 destinations.
 *
 * @throws {Deno.errors.AddrInUse} or {Deno.errors.AddrNotAvailable} when it cannot bind
 * @example const socket = bindUdp("127.0.0.1"); const { port } = socket.addr as Deno.NetAddr;
 */
export function bindUdp(host: string, port = 0): Deno.DatagramConn {
  return Deno.listenDatagram({ transport: "udp", hostname: host, port });
}

/**
 * Binds a socket for any destination: dual-stack `::`, or `0.0.0.0` on a host without IPv6.
 *
 * @throws {Deno.errors.AddrNotAvailable} when neither binds
 */
export function bindUdpAnywhere(): Deno.DatagramConn {
  try {
    return bindUdp("::");
  } catch {
    return bindUdp("0.0.0.0");
  }
}

/**
 * A datagram's source as a destination, with an IPv4-mapped IPv6 address (what a dual-stack
 * socket reports for an IPv4 peer) written as plain IPv4, as the peer itself knows it.
 *
 * @example sourceOf({ transport: "udp", hostname: "::ffff:127.0.0.1", port: 53 }) // { host: "127.0.0.1", port: 53 }
 */
export function sourceOf(addr: Deno.Addr): Destination {
  const { hostname, port } = addr as Deno.NetAddr;
  const host = hostname.toLowerCase().startsWith("::ffff:") && hostname.includes(".")
    ? hostname.slice(7)
    : hostname;
  return { host, port };
}

/**
 * Datagram sources encoded as on the wire (ATYP ADDR PORT, IPv4-mapped written as IPv4),
 * remembering the last one: replies mostly come from one source.
 *
 * @example writer.push(sources.encode(from), datagram);
 */
export class SourceEncoder {
  #hostname = "";
  #port = -1;
  #bytes: Uint8Array = new Uint8Array(0);

  encode(addr: Deno.Addr): Uint8Array {
    const { hostname, port } = addr as Deno.NetAddr;
    if (hostname !== this.#hostname || port !== this.#port) {
      this.#bytes = encodeAddress(sourceOf(addr));
      this.#hostname = hostname;
      this.#port = port;
    }
    return this.#bytes;
  }
}

/** `host:port` of a datagram's source, for logs. */
export function formatSource(addr: Deno.Addr): string {
  return formatHostPort(sourceOf(addr));
}

/**
 * Receives datagrams into one reused buffer and hands each to `handle`, awaiting it before the
 * next `receive` (what arrives meanwhile waits in the kernel's buffer, and past that is
 * dropped: UDP's backpressure). The datagram is a view into the buffer, valid until `handle`
 * settles. Ends when the socket closes or fails, or `handle` returns `false`.
 *
 * @returns the error that ended receiving (a closed socket's included), or undefined
 * @example await receiveEach(socket, async (datagram, from) => await relay(datagram, from));
 */
export async function receiveEach(
  socket: Deno.DatagramConn,
  handle: (datagram: Uint8Array, from: Deno.Addr) => Promise<boolean | void> | boolean | void,
): Promise<unknown> {
  const buffer = new Uint8Array(MAX_DATAGRAM);
  for (;;) {
    let datagram: Uint8Array;
    let from: Deno.Addr;
    try {
      [datagram, from] = await socket.receive(buffer);
    } catch (error) {
      return error;
    }
    if (await handle(datagram, from) === false) return undefined;
  }
}

/**
 * Closes a socket, ignoring one already closed: closing is how both programs end a receive
 * loop (the pending `receive` then rejects).
 */
export function closeUdp(socket: Deno.DatagramConn): void {
  try {
    socket.close();
  } catch {
    // already closed
  }
}
