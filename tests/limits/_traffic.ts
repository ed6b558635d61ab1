/**
 * Traffic for the limit tests and `scripts/bench_limits.ts`: a loopback endpoint that sends or
 * swallows a requested number of bytes, SOCKS5 clients that go to it through a real local, and
 * byte counters that remember when each byte arrived, so rates can be read over any window.
 */
import { encodeRequest } from "../../lib/protocol/socks5.ts";
import { decodeAddress } from "../../lib/protocol/address.ts";
import { readExactly, writeAll } from "../../lib/common/net/conn_io.ts";
import { concat } from "../../lib/common/net/peer.ts";
import { assert } from "../_assert.ts";
import { curl, delay } from "../_harness.ts";

const CHUNK = 64 * 1024;
/** One op byte and a 64-bit big-endian length. */
const COMMAND_SIZE = 9;
export const DOWNLOAD = 0x44;
const UPLOAD = 0x55;

/** Bytes received on one connection, with the time (performance.now) of each arrival. */
export class Counter {
  total = 0;
  readonly times: number[] = [];
  readonly totals: number[] = [];
  started = performance.now();
  ended: number | null = null;
  /** Set when the transfer ended before all bytes came (closed or reset by a peer). */
  cut = false;

  add(bytes: number): void {
    this.total += bytes;
    this.times.push(performance.now());
    this.totals.push(this.total);
  }

  /** Bytes received by time `t` (performance.now). */
  at(t: number): number {
    let lo = 0;
    let hi = this.times.length;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (this.times[mid]! <= t) lo = mid + 1;
      else hi = mid;
    }
    return lo === 0 ? 0 : this.totals[lo - 1]!;
  }

  /** Bytes received in `[from, to)`. */
  between(from: number, to: number): number {
    return this.at(to) - this.at(from);
  }

  /** Milliseconds from start to end (or to now while running). */
  get ms(): number {
    return (this.ended ?? performance.now()) - this.started;
  }
}

/** Bytes per second across `counters` over `[from, to)` (performance.now times). */
export function rateOf(counters: Counter[], from: number, to: number): number {
  const bytes = counters.reduce((sum, c) => sum + c.between(from, to), 0);
  return bytes / ((to - from) / 1000);
}

/** Jain's fairness index of `values`: 1 when all are equal, 1/n when one takes everything. */
export function jain(values: number[]): number {
  const sum = values.reduce((a, b) => a + b, 0);
  const squares = values.reduce((a, b) => a + b * b, 0);
  return squares === 0 ? 1 : (sum * sum) / (values.length * squares);
}

/** The far end: sends or swallows what each connection asks for, and counts connections. */
export interface Endpoint {
  port: number;
  /** Connections accepted so far (a refused tunnel never gets here). */
  readonly accepted: number;
  /** Byte counters of the uploads received, in order of arrival. */
  readonly uploads: Counter[];
  /** Closes every open connection (so a stopped upload does not keep draining buffers). */
  closeConnections(): void;
  close(): void;
}

/**
 * Starts the endpoint on 127.0.0.1. A connection sends 9 bytes: `D` or `U` and a length. For
 * `D` the endpoint sends that many bytes and closes; for `U` it reads that many, counting
 * their arrival, and answers with one byte.
 */
export function startEndpoint(): Endpoint {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const uploads: Counter[] = [];
  let accepted = 0;
  const open = new Set<Deno.TcpConn>();
  const source = new Uint8Array(CHUNK).fill(0x5a);
  const serve = async (conn: Deno.TcpConn) => {
    try {
      const command = await readExactly(conn, COMMAND_SIZE);
      const length = Number(new DataView(command.buffer).getBigUint64(1));
      if (command[0] === DOWNLOAD) {
        for (let left = length; left > 0; left -= CHUNK) {
          await writeAll(conn, left >= CHUNK ? source : source.subarray(0, left));
        }
      } else if (command[0] === UPLOAD) {
        const counter = new Counter();
        uploads.push(counter);
        const buffer = new Uint8Array(CHUNK);
        while (counter.total < length) {
          const n = await conn.read(buffer);
          if (n === null) break;
          counter.add(n);
        }
        counter.ended = performance.now();
        await writeAll(conn, Uint8Array.of(0x4b));
      }
    } catch {
      // the tunnel was closed under us: that is what some tests want
    } finally {
      if (open.delete(conn)) conn.close();
    }
  };
  (async () => {
    for await (const conn of listener) {
      accepted++;
      open.add(conn);
      serve(conn);
    }
  })().catch(() => {});
  return {
    port: listener.addr.port,
    get accepted() {
      return accepted;
    },
    uploads,
    closeConnections() {
      for (const conn of open) conn.close();
      open.clear();
    },
    close() {
      listener.close();
      this.closeConnections();
    },
  };
}

/**
 * Opens a SOCKS5 tunnel through the proxy on 127.0.0.1:`socksPort` to the endpoint.
 *
 * @throws {Error} when the proxy refuses or closes during the handshake
 */
export async function socksConnect(socksPort: number, port: number): Promise<Deno.TcpConn> {
  const conn = await Deno.connect({ hostname: "127.0.0.1", port: socksPort });
  try {
    await writeAll(conn, Uint8Array.of(5, 1, 0));
    const method = await readExactly(conn, 2);
    if (method[1] !== 0) throw new Error(`the proxy chose SOCKS5 method ${method[1]}`);
    await writeAll(
      conn,
      encodeRequest({ command: 1, destination: { host: "127.0.0.1", port } }),
    );
    let reply = await readExactly(conn, 5);
    while (!decodeAddress(reply, 3)) reply = concat(reply, await readExactly(conn, 1));
    if (reply[1] !== 0) throw new Error(`the proxy answered SOCKS5 reply ${reply[1]}`);
    return conn;
  } catch (error) {
    conn.close();
    throw error;
  }
}

/** The endpoint's request: DOWNLOAD or UPLOAD and a length. */
export function command(op: number, length: number): Uint8Array {
  const bytes = new Uint8Array(COMMAND_SIZE);
  bytes[0] = op;
  new DataView(bytes.buffer).setBigUint64(1, BigInt(length));
  return bytes;
}

/**
 * Downloads `length` bytes from the endpoint through the proxy, counting them as they come.
 * Resolves when done or cut off (`counter.cut`); a refused tunnel gives 0 bytes, cut.
 */
export async function download(
  socksPort: number,
  endpoint: Endpoint,
  length: number,
  counter = new Counter(),
  signal?: AbortSignal,
): Promise<Counter> {
  counter.started = performance.now();
  let conn: Deno.TcpConn;
  try {
    conn = await socksConnect(socksPort, endpoint.port);
  } catch {
    counter.cut = true;
    counter.ended = performance.now();
    return counter;
  }
  const buffer = new Uint8Array(CHUNK);
  const stop = () => conn.close();
  signal?.addEventListener("abort", stop, { once: true });
  try {
    await writeAll(conn, command(DOWNLOAD, length));
    while (counter.total < length) {
      const n = await conn.read(buffer);
      if (n === null) break;
      counter.add(n);
    }
  } catch {
    // reset: counted as cut below
  } finally {
    signal?.removeEventListener("abort", stop);
    if (!signal?.aborted) conn.close();
  }
  counter.ended = performance.now();
  counter.cut = counter.total < length;
  return counter;
}

/**
 * Uploads `length` bytes to the endpoint through the proxy; resolves true when the endpoint
 * confirmed all of them. The arrival times are in `endpoint.uploads`.
 */
export async function upload(
  socksPort: number,
  endpoint: Endpoint,
  length: number,
  signal?: AbortSignal,
): Promise<boolean> {
  let conn: Deno.TcpConn;
  try {
    conn = await socksConnect(socksPort, endpoint.port);
  } catch {
    return false;
  }
  const source = new Uint8Array(CHUNK).fill(0xa5);
  const stop = () => conn.close();
  signal?.addEventListener("abort", stop, { once: true });
  try {
    await writeAll(conn, command(UPLOAD, length));
    for (let left = length; left > 0; left -= CHUNK) {
      await writeAll(conn, left >= CHUNK ? source : source.subarray(0, left));
    }
    await readExactly(conn, 1);
    return true;
  } catch {
    return false;
  } finally {
    signal?.removeEventListener("abort", stop);
    if (!signal?.aborted) conn.close();
  }
}

/** The `user list --json` entry of `name`. */
export interface UserRow {
  name: string;
  enabled: boolean;
  upLimit: number;
  downLimit: number;
  quota: number;
  maxConns: number;
  expiresAt: string | null;
  bytesUp: number;
  bytesDown: number;
  openConns: number;
}

/** Reads one user's row through the real `user list --json`. */
export async function userRow(
  remote: { user(...args: string[]): Promise<string> },
  name: string,
): Promise<UserRow> {
  const rows = JSON.parse(await remote.user("list", "--json")) as UserRow[];
  const row = rows.find((r) => r.name === name);
  if (!row) throw new Error(`no user ${name} in user list --json`);
  return row;
}

export const KiB = 1024;
export const MiB = 1024 * 1024;

/** Runs curl through the chain's local; returns curl's own total time in seconds. */
export async function timedCurl(
  proxy: string,
  ...args: string[]
): Promise<{ seconds: number; out: string }> {
  const result = await curl("-x", `socks5h://${proxy}`, "-w", "\n%{time_total}", ...args);
  const text = new TextDecoder().decode(result.body);
  assert(result.code === 0, `curl failed (${result.code}): ${result.stderr}`);
  const lines = text.trimEnd().split("\n");
  return { seconds: Number(lines.at(-1)), out: lines.slice(0, -1).join("\n") };
}

/** Waits out one second so the user's bucket is full again (every run starts the same). */
export const refill = (): Promise<void> => delay(1100);
