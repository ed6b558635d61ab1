/** Helpers for the hardening tests: raw Trojan clients, floods, process memory. */
import tls from "node:tls";
import { encodeTrojanHeader, trojanToken } from "../../lib/protocol/trojan.ts";
import type { Destination } from "../../lib/protocol/address.ts";
import { closeQuietly, delay, Program, remoteArgs, RemoteFixture } from "../_harness.ts";

/** What a raw tunnel attempt saw. */
export interface TunnelReply {
  bytes: Uint8Array;
  /** The server ended the connection (rather than our read timeout). */
  closed: boolean;
  ms: number;
}

/**
 * Opens a TLS connection to a remote with node:tls (Deno.connect cannot choose the source
 * address), sends a Trojan header for `credential` and `payload`, and reads until the server
 * closes or `readMs` pass.
 */
export function trojan(
  remote: Pick<RemoteFixture, "port" | "certPath">,
  options: {
    credential: string;
    destination: Destination;
    payload?: Uint8Array;
    localAddress?: string;
    readMs?: number;
    raw?: Uint8Array;
  },
): Promise<TunnelReply> {
  const started = performance.now();
  const chunks: Uint8Array[] = [];
  return new Promise((resolve) => {
    // localAddress reaches net.connect underneath; node's types leave it out of tls.
    const connectOptions: tls.ConnectionOptions & { localAddress?: string } = {
      host: "127.0.0.1",
      port: remote.port,
      localAddress: options.localAddress,
      ca: Deno.readTextFileSync(remote.certPath),
      servername: "localhost",
    };
    const socket = tls.connect(connectOptions);
    let settled = false;
    const finish = (closed: boolean) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      socket.destroy();
      const bytes = new Uint8Array(chunks.reduce((n, c) => n + c.length, 0));
      let at = 0;
      for (const chunk of chunks) {
        bytes.set(chunk, at);
        at += chunk.length;
      }
      resolve({ bytes, closed, ms: performance.now() - started });
    };
    const timer = setTimeout(() => finish(false), options.readMs ?? 5_000);
    socket.on("secureConnect", () => {
      socket.write(
        options.raw ?? encodeTrojanHeader(
          { token: trojanToken(options.credential), command: 1, destination: options.destination },
          options.payload,
        ),
      );
    });
    socket.on("data", (chunk: Uint8Array) => chunks.push(new Uint8Array(chunk)));
    socket.on("end", () => finish(true));
    socket.on("close", () => finish(true));
    socket.on("error", () => finish(true));
  });
}

/** Resident memory of a process in MiB (Linux /proc). */
export function rssMiB(pid: number): number {
  const status = Deno.readTextFileSync(`/proc/${pid}/status`);
  const kib = Number(/VmRSS:\s+(\d+)/.exec(status)?.[1] ?? NaN);
  return kib / 1024;
}

/** Restarts the fixture's `serve` without `--allow-private` (the fixture always adds it). */
export async function serveStrict(remote: RemoteFixture, args: string[] = []): Promise<void> {
  await remote.program?.stop();
  remote.program = new Program(remoteArgs(
    "serve",
    "--data",
    remote.dir,
    "--listen",
    remote.address,
    ...args,
  ));
  await remote.program.waitFor(/listening on/);
}

/**
 * A raw TCP "web site" for --fallback: records every byte each connection sends and answers
 * a fixed page once it has seen the end of a request head (or any bytes for `eagerly`).
 */
export function startFallbackSite(): {
  port: number;
  received: Uint8Array[];
  close(): void;
} {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const received: Uint8Array[] = [];
  const page = "<html><body>Welcome to nginx!</body></html>\n";
  const reply = new TextEncoder().encode(
    `HTTP/1.1 200 OK\r\nServer: nginx\r\nContent-Type: text/html\r\nContent-Length: ${page.length}\r\nConnection: close\r\n\r\n${page}`,
  );
  const conns = new Set<Deno.Conn>();
  (async () => {
    for await (const conn of listener) {
      conns.add(conn);
      (async () => {
        let seen = new Uint8Array(0);
        const index = received.push(seen) - 1;
        try {
          for await (const chunk of conn.readable) {
            const next = new Uint8Array(seen.length + chunk.length);
            next.set(seen);
            next.set(chunk, seen.length);
            received[index] = seen = next;
            if (new TextDecoder().decode(seen).includes("\r\n\r\n")) {
              await conn.write(reply);
              break;
            }
          }
        } catch {
          // the client went away
        }
        try {
          conn.close();
        } catch {
          // already closed
        }
        conns.delete(conn);
      })();
    }
  })().catch(() => {});
  return {
    port: listener.addr.port,
    received,
    close() {
      listener.close();
      for (const conn of conns) closeQuietly(conn);
    },
  };
}

/**
 * Opens `count` TCP connections to `port` (in batches, so the listen backlog keeps up),
 * each sending `first` (if any) and then nothing. Resolves once all are open; `closedAt`
 * fills in, per connection, when the server closed it (ms after `openedAt`).
 */
export async function stall(
  port: number,
  count: number,
  first?: Uint8Array,
): Promise<{ opened: number; openedAt: number; closedAt: number[]; close(): void }> {
  const conns: Deno.TcpConn[] = [];
  const closedAt: number[] = [];
  const openedAt = performance.now();
  for (let i = 0; i < count; i += 250) {
    const batch = await Promise.allSettled(
      Array.from(
        { length: Math.min(250, count - i) },
        () => Deno.connect({ hostname: "127.0.0.1", port }),
      ),
    );
    for (const result of batch) {
      if (result.status !== "fulfilled") continue;
      const conn = result.value;
      conns.push(conn);
      if (first) conn.write(first).catch(() => {});
      (async () => {
        const buffer = new Uint8Array(4096);
        try {
          while ((await conn.read(buffer)) !== null) {
            // a server answering garbage (an alert, an HTTP 400) still counts as open
          }
        } catch {
          // reset: closed too
        }
        closedAt.push(performance.now() - openedAt);
      })();
    }
    await delay(5);
  }
  return {
    opened: conns.length,
    openedAt,
    closedAt,
    close() {
      for (const conn of conns) {
        try {
          conn.close();
        } catch {
          // closed already
        }
      }
    },
  };
}

/**
 * Opens `count` TLS connections to a remote, spread over `sources` loopback addresses
 * (127.0.0.1, 127.0.0.2, …), each sending the first 30 hex digits of a token and then nothing.
 * Resolves once every handshake has ended; `open()` counts the ones still open.
 */
export async function partialHeaders(
  remote: RemoteFixture,
  count: number,
  sources = 1,
): Promise<{ handshaken: number; open(): number; close(): void }> {
  const ca = Deno.readTextFileSync(remote.certPath);
  const sockets = new Set<tls.TLSSocket>();
  let handshaken = 0;
  await Promise.all(Array.from({ length: count }, (_, i) =>
    new Promise<void>((resolve) => {
      const connectOptions: tls.ConnectionOptions & { localAddress?: string } = {
        host: "127.0.0.1",
        port: remote.port,
        localAddress: `127.0.0.${1 + i % sources}`,
        ca,
        servername: "localhost",
      };
      const socket = tls.connect(connectOptions);
      const timer = setTimeout(() => socket.destroy(), 5_000);
      socket.on("secureConnect", () => {
        clearTimeout(timer);
        handshaken++;
        sockets.add(socket);
        socket.write("0123456789abcdef0123456789abcd");
        resolve();
      });
      socket.on("error", () => {});
      socket.on("close", () => {
        clearTimeout(timer);
        sockets.delete(socket);
        resolve();
      });
    })));
  return {
    handshaken,
    open: () => sockets.size,
    close() {
      for (const socket of sockets) socket.destroy();
    },
  };
}

/** Whether the program is still running. */
export function alive(program: Program): () => boolean {
  let running = true;
  program.status.then(() => running = false);
  return () => running;
}

/** The status of `GET url` (0 when it failed), within `ms`. */
export async function status(url: string, ms = 5_000): Promise<number> {
  try {
    const response = await fetch(url, { signal: AbortSignal.timeout(ms) });
    await response.body?.cancel();
    return response.status;
  } catch {
    return 0;
  }
}

/** Asks `url` until it answers `expected`, for up to `ms`; the last status. */
export async function until(url: string, expected: number, ms: number): Promise<number> {
  const deadline = performance.now() + ms;
  let got = 0;
  while (performance.now() < deadline) {
    got = await status(url, 2_000);
    if (got === expected) return got;
    await delay(250);
  }
  return got;
}
