/**
 * Helpers for the UDP tests: an echo server that counts what it sees, a SOCKS5 UDP client
 * spoken by hand (for the malformed inputs a real client never sends), and PySocks.
 */
import { decodeReply, encodeGreeting, encodeRequest, Method } from "../../lib/protocol/socks5.ts";
import { Command } from "../../lib/protocol/socks5.ts";
import type { Destination } from "../../lib/protocol/address.ts";
import { decodeSocksDatagram, encodeSocksDatagram } from "../../lib/protocol/socks5_udp.ts";
import { readExactly, writeAll } from "../../lib/common/net/conn_io.ts";
import { decodeTrojanFrame, encodeTrojanFrame } from "../../lib/protocol/trojan_udp.ts";
import type { TrojanDatagram } from "../../lib/protocol/trojan_udp.ts";
import { encodeTrojanHeader, TrojanCommand, trojanToken } from "../../lib/protocol/trojan.ts";
import { Peer } from "../../lib/common/net/peer.ts";
import { ROOT } from "../_harness.ts";
import type { RemoteFixture } from "../_harness.ts";

/** A UDP echo server on one address; counts datagrams and bytes it received. */
export class EchoServer {
  readonly socket: Deno.DatagramConn;
  datagrams = 0;
  bytes = 0;
  readonly #done: Promise<void>;

  constructor(host = "127.0.0.1") {
    const socket = Deno.listenDatagram({ transport: "udp", hostname: host, port: 0 });
    this.socket = socket;
    this.#done = (async () => {
      const buffer = new Uint8Array(65536);
      try {
        for (;;) {
          const [data, from] = await socket.receive(buffer);
          this.datagrams++;
          this.bytes += data.length;
          await socket.send(data, from).catch(() => {});
        }
      } catch {
        // closed
      }
    })();
  }

  get port(): number {
    return (this.socket.addr as Deno.NetAddr).port;
  }

  async close(): Promise<void> {
    this.socket.close();
    await this.#done;
  }
}

/** A SOCKS5 UDP association opened by hand: the TCP control connection and a UDP socket. */
export class SocksUdpClient {
  readonly control: Deno.TcpConn;
  readonly socket: Deno.DatagramConn;
  readonly relay: Deno.NetAddr;

  private constructor(control: Deno.TcpConn, socket: Deno.DatagramConn, relay: Deno.NetAddr) {
    this.control = control;
    this.socket = socket;
    this.relay = relay;
  }

  /**
   * Greets, asks UDP ASSOCIATE announcing the UDP socket's port (or what `options.announce`
   * makes of the UDP socket's address), reads the reply. The UDP socket binds `options.udpHost`
   * (default: `proxyHost`).
   */
  static async open(
    proxyPort: number,
    proxyHost = "127.0.0.1",
    options: { udpHost?: string; announce?: (udp: Deno.NetAddr) => Destination } = {},
  ): Promise<SocksUdpClient> {
    const hostname = options.udpHost ?? proxyHost;
    const socket = Deno.listenDatagram({ transport: "udp", hostname, port: 0 });
    const control = await Deno.connect({ hostname: proxyHost, port: proxyPort });
    await writeAll(control, encodeGreeting([Method.noAuth]));
    await readExactly(control, 2);
    const udp = socket.addr as Deno.NetAddr;
    const request = {
      command: Command.udpAssociate,
      destination: options.announce?.(udp) ?? { host: "0.0.0.0", port: udp.port },
    };
    await writeAll(control, encodeRequest(request));
    const head = await readExactly(control, 4);
    const rest = await readExactly(control, head[3] === 1 ? 6 : head[3] === 4 ? 18 : 0);
    const reply = decodeReply(new Uint8Array([...head, ...rest]))!.value;
    if (reply.reply !== 0) throw new Error(`UDP ASSOCIATE refused with REP ${reply.reply}`);
    return new SocksUdpClient(control, socket, {
      transport: "udp",
      hostname: reply.bound.host,
      port: reply.bound.port,
    });
  }

  /** Sends raw bytes to the relay port. */
  sendRaw(bytes: Uint8Array): Promise<number> {
    return this.socket.send(bytes, this.relay);
  }

  /** Sends `payload` to `destination` through the relay. */
  send(destination: Destination, payload: Uint8Array): Promise<number> {
    return this.sendRaw(encodeSocksDatagram(destination, payload));
  }

  /** The next datagram's source and payload, or null after `ms`. */
  async receive(ms = 2000): Promise<{ source: Destination; payload: Uint8Array } | null> {
    let timer: ReturnType<typeof setTimeout> | undefined;
    const timeout = new Promise<null>((resolve) => timer = setTimeout(() => resolve(null), ms));
    try {
      const got = await Promise.race([this.socket.receive(), timeout]);
      if (!got) return null;
      const decoded = decodeSocksDatagram(got[0])!.value;
      return { source: decoded.destination, payload: decoded.payload };
    } finally {
      clearTimeout(timer);
    }
  }

  /** Resolves when the proxy closes the control connection; the time it took, in ms. */
  async controlClosed(ms = 5000): Promise<number> {
    const started = performance.now();
    const buffer = new Uint8Array(64);
    const deadline = setTimeout(() => this.control.close(), ms);
    try {
      while (await this.control.read(buffer) !== null) {
        // nothing is expected; keep reading until the end
      }
    } catch {
      // reset, or closed by the deadline
    } finally {
      clearTimeout(deadline);
    }
    return performance.now() - started;
  }

  close(): void {
    for (const closable of [this.control, this.socket]) {
      try {
        closable.close();
      } catch {
        // already closed
      }
    }
  }
}

/** How many UDP sockets process `pid` holds: its socket descriptors found in /proc/net/udp{,6}. */
export function udpSockets(pid: number): number {
  const inodes = new Set<string>();
  for (const entry of Deno.readDirSync(`/proc/${pid}/fd`)) {
    try {
      const link = Deno.readLinkSync(`/proc/${pid}/fd/${entry.name}`);
      const inode = link.match(/^socket:\[(\d+)\]$/)?.[1];
      if (inode) inodes.add(inode);
    } catch {
      // closed meanwhile
    }
  }
  let count = 0;
  for (const table of ["/proc/net/udp", "/proc/net/udp6"]) {
    for (const line of Deno.readTextFileSync(table).split("\n").slice(1)) {
      const inode = line.trim().split(/\s+/)[9];
      if (inode && inodes.has(inode)) count++;
    }
  }
  return count;
}

/** A pattern of `size` bytes keyed by its size, as `_pysocks_udp.py` makes it. */
export function pattern(size: number): Uint8Array {
  return Uint8Array.from({ length: size }, (_, i) => (i * 7 + size) & 0xff);
}

/** Runs PySocks through the proxy: which sizes came back byte-exact. */
export async function pysocksEcho(
  proxyPort: number,
  target: Destination,
  sizes: number[],
): Promise<Record<string, boolean>> {
  const out = await new Deno.Command("/usr/bin/python3", {
    args: [
      `${ROOT}tests/udp/_pysocks_udp.py`,
      "127.0.0.1",
      String(proxyPort),
      target.host,
      String(target.port),
      ...sizes.map(String),
    ],
    stdin: "null",
  }).output();
  const text = new TextDecoder();
  if (!out.success) throw new Error(`PySocks failed: ${text.decode(out.stderr)}`);
  return JSON.parse(text.decode(out.stdout));
}

/** A Trojan UDP association opened by hand against a remote: CMD 3, then frames. */
export class TrojanUdpClient {
  readonly peer: Peer;
  #headerSent = false;
  readonly #token: string;

  private constructor(peer: Peer, token: string) {
    this.peer = peer;
    this.#token = token;
  }

  /** Opens TLS to the remote (trusting its certificate); the header goes with the first frame. */
  static async open(remote: RemoteFixture, credential: string): Promise<TrojanUdpClient> {
    const conn = await Deno.connectTls({
      hostname: "127.0.0.1",
      port: remote.port,
      caCerts: [Deno.readTextFileSync(remote.certPath)],
    });
    await conn.handshake();
    return new TrojanUdpClient(new Peer(conn), trojanToken(credential));
  }

  /** Writes raw bytes (after the header, which goes first with them if not sent yet). */
  writeRaw(bytes: Uint8Array): Promise<void> {
    if (this.#headerSent) return this.peer.write(bytes);
    this.#headerSent = true;
    return this.peer.write(encodeTrojanHeader({
      token: this.#token,
      command: TrojanCommand.udpAssociate,
      destination: { host: "0.0.0.0", port: 0 },
    }, bytes));
  }

  /** Sends one datagram to `destination`. */
  send(destination: Destination, payload: Uint8Array): Promise<void> {
    return this.writeRaw(encodeTrojanFrame(destination, payload));
  }

  /** The next frame, or null after `ms` (or when the remote closes: see {@linkcode closed}). */
  async receive(ms = 2000): Promise<TrojanDatagram | null> {
    let timer: ReturnType<typeof setTimeout> | undefined;
    const timeout = new Promise<null>((resolve) => timer = setTimeout(() => resolve(null), ms));
    try {
      return await Promise.race([this.#next, timeout]);
    } finally {
      clearTimeout(timer);
    }
  }

  #pending: Promise<TrojanDatagram | null> | null = null;
  get #next(): Promise<TrojanDatagram | null> {
    this.#pending ??= this.peer.readFrame(decodeTrojanFrame).catch(() => null).finally(() =>
      this.#pending = null
    );
    return this.#pending;
  }

  /** Resolves when the remote closes the tunnel; the time it took, in ms. */
  async closed(ms = 5000): Promise<number> {
    const started = performance.now();
    const deadline = setTimeout(() => this.peer.close(), ms);
    try {
      while (await this.peer.read() !== null) {
        // drain
      }
    } catch {
      // a reset is a close too
    } finally {
      clearTimeout(deadline);
    }
    return performance.now() - started;
  }

  close(): void {
    this.peer.close();
  }
}
