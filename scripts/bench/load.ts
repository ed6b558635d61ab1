/** The load generator: SOCKS5 clients that measure throughput, latency and held tunnels. */
import { CHUNK, encodeCommand, Op, readExactly, writeAll } from "./command.ts";

/** Where a client connects: straight to the sink, or through a SOCKS5 proxy to it. */
export interface Route {
  sinkPort: number;
  /** SOCKS5 port on 127.0.0.1; absent for the direct row. */
  socksPort?: number;
}

const GREETING = Uint8Array.of(5, 1, 0);

/**
 * Opens a connection to the sink (through SOCKS5 when the route has a proxy) and sends `op`.
 * The SOCKS5 greeting and request are two round trips, as curl and browsers do them.
 *
 * @throws {Error} when the proxy refuses
 */
export async function open(route: Route, op: number, length = 0): Promise<Deno.TcpConn> {
  const port = route.socksPort ?? route.sinkPort;
  const conn = await Deno.connect({ hostname: "127.0.0.1", port });
  try {
    conn.setNoDelay(true);
    if (route.socksPort !== undefined) {
      await writeAll(conn, GREETING);
      const method = await readExactly(conn, 2);
      if (method[1] !== 0) throw new Error(`SOCKS5 method ${method[1]}`);
      const request = Uint8Array.of(5, 1, 0, 1, 127, 0, 0, 1, route.sinkPort >> 8, route.sinkPort);
      await writeAll(conn, request);
      const reply = await readExactly(conn, 10);
      if (reply[1] !== 0) throw new Error(`SOCKS5 reply ${reply[1]}`);
    }
    await writeAll(conn, encodeCommand(op, length));
    return conn;
  } catch (error) {
    conn.close();
    throw error;
  }
}

/** Megabytes (10^6) per second. */
function rate(bytes: number, ms: number): number {
  return bytes / 1e6 / (ms / 1000);
}

/** Downloads `bytes` on each of `streams` connections at once; aggregate MB/s. */
export async function download(route: Route, streams: number, bytes: number): Promise<number> {
  const started = performance.now();
  await Promise.all(Array.from({ length: streams }, async () => {
    const conn = await open(route, Op.download, bytes);
    const buffer = new Uint8Array(CHUNK);
    let left = bytes;
    try {
      while (left > 0) {
        const n = await conn.read(buffer);
        if (n === null) throw new Error(`download ended ${left} bytes short`);
        left -= n;
      }
    } finally {
      conn.close();
    }
  }));
  return rate(bytes * streams, performance.now() - started);
}

/** Uploads `bytes` on each of `streams` connections at once; aggregate MB/s. */
export async function upload(route: Route, streams: number, bytes: number): Promise<number> {
  const source = new Uint8Array(CHUNK).fill(0xa5);
  const started = performance.now();
  await Promise.all(Array.from({ length: streams }, async () => {
    const conn = await open(route, Op.upload, bytes);
    try {
      for (let left = bytes; left > 0; left -= CHUNK) {
        await writeAll(conn, left >= CHUNK ? source : source.subarray(0, left));
      }
      await readExactly(conn, 1);
    } finally {
      conn.close();
    }
  }));
  return rate(bytes * streams, performance.now() - started);
}

/** The `p`th percentile (nearest rank) of ascending `sorted`. */
export function percentile(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)] ?? NaN;
}

/** Connect + SOCKS5 + first byte from the sink, in ms. */
export async function firstByte(route: Route): Promise<number> {
  const started = performance.now();
  const conn = await open(route, Op.ping);
  try {
    await readExactly(conn, 1);
  } finally {
    conn.close();
  }
  return performance.now() - started;
}

/** Connect + SOCKS5 + first byte from the sink, `count` times one after another. */
export async function latency(route: Route, count: number): Promise<{ p50: number; p99: number }> {
  const times: number[] = [];
  for (let i = 0; i < count; i++) times.push(await firstByte(route));
  times.sort((a, b) => a - b);
  return { p50: percentile(times, 50), p99: percentile(times, 99) };
}

/** Resident memory of a process in KiB (`VmRSS`), 0 when it is gone. */
export function rssKiB(pid: number): number {
  try {
    const status = Deno.readTextFileSync(`/proc/${pid}/status`);
    return Number(/VmRSS:\s+(\d+)/.exec(status)?.[1] ?? 0);
  } catch {
    return 0;
  }
}

/** CPU time a process has used so far (user + system) in ms, 0 when it is gone. */
export function cpuMs(pid: number): number {
  try {
    // Fields after the command name, which is in brackets and may hold spaces.
    const fields = Deno.readTextFileSync(`/proc/${pid}/stat`).split(") ")[1]!.split(" ");
    return (Number(fields[11]) + Number(fields[12])) * 1000 / CLOCK_TICKS_PER_SECOND;
  } catch {
    return 0;
  }
}

/** `sysconf(_SC_CLK_TCK)`: 100 on every Linux this runs on. */
const CLOCK_TICKS_PER_SECOND = 100;

/** The whole machine's CPU ms so far, all cores: in processes (user, nice, system), and stolen. */
export interface MachineCpu {
  busyMs: number;
  /** Taken by the hypervisor for others. */
  stealMs: number;
}

/** Reads the first line of `/proc/stat`; zeros where there is none. */
export function machineCpu(): MachineCpu {
  try {
    const line = Deno.readTextFileSync("/proc/stat").split("\n")[0]!;
    const [user, nice, system, , , , , steal] = line.split(/\s+/).slice(1).map(Number);
    const ms = (ticks: number) => ticks * 1000 / CLOCK_TICKS_PER_SECOND;
    return { busyMs: ms(user! + nice! + system!), stealMs: ms(steal ?? 0) };
  } catch {
    return { busyMs: 0, stealMs: 0 };
  }
}

/** What holding many tunnels cost and how many survived. */
export interface TunnelResult {
  opened: number;
  echoed: number;
  /** Growth of the proxy processes' summed VmRSS while the tunnels were held, per tunnel. */
  kibPerTunnel: number;
  /** The same for each process, in the order of the pids given (client, then server). */
  kibPerTunnelByProcess: number[];
  heldKiB: number;
}

/** Runs `task` over `items` with at most `limit` in flight. */
async function pool<T>(items: T[], limit: number, task: (item: T) => Promise<void>) {
  let next = 0;
  await Promise.all(Array.from({ length: limit }, async () => {
    while (next < items.length) await task(items[next++]!);
  }));
}

/**
 * Opens `count` tunnels, holds them all for `holdMs`, measures the proxies' memory, then has
 * each echo a small message.
 */
export async function tunnels(
  route: Route,
  count: number,
  holdMs: number,
  pids: number[],
): Promise<TunnelResult> {
  const before = pids.map(rssKiB);
  const conns: Deno.TcpConn[] = [];
  await pool(Array.from({ length: count }, (_, i) => i), 64, async () => {
    try {
      conns.push(await open(route, Op.echo));
    } catch {
      // counted as a failure below
    }
  });
  await new Promise((r) => setTimeout(r, holdMs));
  const held = pids.map(rssKiB);
  const growth = held.map((kib, i) => (kib - before[i]!) / count);
  let echoed = 0;
  const message = new TextEncoder().encode("still there?\n");
  await pool(conns, 256, async (conn) => {
    try {
      await writeAll(conn, message);
      const reply = await readWithin(conn, message.length, 15_000);
      if (reply) echoed++;
    } catch {
      // a dead tunnel
    }
  });
  for (const conn of conns) {
    try {
      conn.close();
    } catch {
      // already closed
    }
  }
  return {
    opened: conns.length,
    echoed,
    kibPerTunnel: growth.reduce((sum, kib) => sum + kib, 0),
    kibPerTunnelByProcess: growth,
    heldKiB: held.reduce((sum, kib) => sum + kib, 0),
  };
}

async function readWithin(conn: Deno.TcpConn, length: number, ms: number) {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const late = new Promise<null>((resolve) => timer = setTimeout(() => resolve(null), ms));
  try {
    return await Promise.race([readExactly(conn, length), late]);
  } finally {
    clearTimeout(timer);
  }
}
