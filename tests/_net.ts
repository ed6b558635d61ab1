/**
 * The small loopback servers the tests talk to: a TCP server that runs a handler per
 * connection, HTTP origins, an echo server; and free ports.
 */
import { tmpdir } from "node:os";
import { randomBytes, sha256 } from "./_bytes.ts";

/**
 * Ports handed out for servers a test starts: below Linux's ephemeral range (32768–60999), so
 * that no outgoing connection of any process takes one between the pick and the server's bind.
 * Each test file walks the range from a random start and claims each port it hands out with a
 * file in {@linkcode CLAIMS}, so two files running side by side never hand out the same port
 * while its server starts (a bind-and-release probe alone let two walks that met both pass:
 * "address already in use" in a full run).
 */
const FREE_PORTS = { first: 10000, count: 22000 };
// SWIFTPROXY_TEST_PORTS_FROM starts the walk at a given offset (free_port_test's two walks).
let nextFreePort = Number(Deno.env.get("SWIFTPROXY_TEST_PORTS_FROM") ?? NaN);
if (!Number.isInteger(nextFreePort)) nextFreePort = Math.floor(Math.random() * FREE_PORTS.count);
const CLAIMS = `${tmpdir()}/swiftproxy-test-ports`;
/** A claim older than this is a killed run's: no test file runs this long. */
const STALE_CLAIM_MS = 30 * 60_000;
const claimed: string[] = [];
globalThis.addEventListener("unload", () => {
  for (const path of claimed) {
    try {
      Deno.removeSync(path);
    } catch {
      // already gone
    }
  }
});

/** Claims `port` for this test file; false when another file holds it. */
function claim(port: number): boolean {
  const path = `${CLAIMS}/${port}`;
  Deno.mkdirSync(CLAIMS, { recursive: true });
  for (let attempt = 0; attempt < 2; attempt++) {
    try {
      Deno.writeFileSync(path, new Uint8Array(), { createNew: true });
      claimed.push(path);
      return true;
    } catch (error) {
      if (!(error instanceof Deno.errors.AlreadyExists)) throw error;
      try {
        const age = Date.now() - (Deno.statSync(path).mtime?.getTime() ?? Date.now());
        if (age < STALE_CLAIM_MS) return false;
        Deno.removeSync(path);
      } catch {
        // released (or taken over) meanwhile: try again
      }
    }
  }
  return false;
}

/** A free TCP port on 127.0.0.1 (bound and released), outside the ephemeral range. */
export function freePort(): number {
  for (;;) {
    const port = FREE_PORTS.first + (nextFreePort++ % FREE_PORTS.count);
    if (!claim(port)) continue;
    try {
      Deno.listen({ hostname: "127.0.0.1", port }).close();
      return port;
    } catch (error) {
      if (!(error instanceof Deno.errors.AddrInUse)) throw error;
    }
  }
}

/** Closes `conn` unless the runtime already has. */
export function closeQuietly(conn: Deno.Conn): void {
  try {
    conn.close();
  } catch {
    // already closed
  }
}

/** A loopback TCP server that counts accepted connections and runs `handle` on each. */
export class TcpServer {
  readonly listener: Deno.TcpListener;
  accepts = 0;
  readonly #conns = new Set<Deno.TcpConn>();
  readonly #tasks = new Set<Promise<void>>();
  readonly #loop: Promise<void>;

  constructor(handle: (conn: Deno.TcpConn) => Promise<void>, hostname = "127.0.0.1") {
    const listener = Deno.listen({ hostname, port: 0 });
    this.listener = listener;
    this.#loop = (async () => {
      for await (const conn of listener) {
        this.accepts++;
        this.#conns.add(conn);
        const task = handle(conn).catch(() => {}).finally(() => {
          try {
            conn.close();
          } catch {
            // closed by the handler
          }
          this.#conns.delete(conn);
          this.#tasks.delete(task);
        });
        this.#tasks.add(task);
      }
    })().catch(() => {});
  }

  get port(): number {
    return this.listener.addr.port;
  }

  async close(): Promise<void> {
    this.listener.close();
    await this.#loop;
    for (const conn of this.#conns) {
      try {
        conn.close();
      } catch {
        // already closed
      }
    }
    await Promise.all(this.#tasks);
  }
}

/**
 * A loopback HTTP origin (Deno.serve): `GET /bytes/N` sends N deterministic bytes,
 * `POST /sha256` answers the SHA-256 of the body and its length, `/echo-headers` the headers.
 */
export function startOrigin(hostname = "127.0.0.1"): { port: number; close(): Promise<void> } {
  const server = Deno.serve({ hostname, port: 0, onListen() {} }, async (request) => {
    const url = new URL(request.url);
    const bytes = /^\/bytes\/(\d+)$/.exec(url.pathname);
    if (bytes) {
      return new Response(randomBytes(Number(bytes[1])) as Uint8Array<ArrayBuffer>);
    }
    if (url.pathname === "/sha256") {
      const body = new Uint8Array(await request.arrayBuffer());
      return Response.json({ length: body.length, sha256: await sha256(body) });
    }
    if (url.pathname === "/echo-headers") {
      return Response.json({
        path: url.pathname + url.search,
        headers: Object.fromEntries(request.headers),
      });
    }
    return new Response(`origin ${hostname} says hello\n`);
  });
  return { port: server.addr.port, close: () => server.shutdown() };
}

/**
 * A loopback HTTP origin that answers every request with `name`, the method, the path and
 * the request body's length, so a test can tell which origin served a request.
 */
export function namedOrigin(
  name: string,
  hostname = "127.0.0.1",
): { port: number; close(): Promise<void> } {
  const server = Deno.serve({ hostname, port: 0, onListen() {} }, async (request) => {
    const body = await request.arrayBuffer();
    const { pathname } = new URL(request.url);
    return new Response(`${name} ${request.method} ${pathname} ${body.byteLength}\n`);
  });
  return { port: server.addr.port, close: () => server.shutdown() };
}

/** A loopback TCP server that sends back whatever it receives. */
export function startEcho(): TcpServer & { port: number } {
  return new TcpServer((conn) => conn.readable.pipeTo(conn.writable));
}
