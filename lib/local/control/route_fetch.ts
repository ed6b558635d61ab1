/**
 * One HTTP GET through a route (the tunnel): for a rule-provider's URL, which is fetched the
 * way the user's own traffic goes, not from the local's own network. `https://` is TLS inside
 * the tunnel (`node:tls` over the route's connection), its certificate checked against the
 * system's roots as any client would.
 */
import { Duplex } from "node:stream";
import tls from "node:tls";
import { decodeResponseHead, headerValue } from "../../protocol/http_proxy.ts";
import type { Route, RouteConn } from "../tunnel/route.ts";

/** The most a fetched body may be. */
const MAX_BODY = 64 * 1024 * 1024;

/**
 * The body of `url` fetched through `route` (HTTP/1.0, so the body is neither chunked nor
 * kept alive), within `timeoutMs`.
 *
 * @throws {Error} saying why: the route could not open, TLS failed, a status other than 200,
 *   a body cut short or too large, no answer in time
 * @example const text = await fetchThrough(dialer, "https://example.org/rules.txt", 30_000);
 */
export async function fetchThrough(route: Route, url: string, timeoutMs: number): Promise<string> {
  const target = new URL(url);
  const tlsWanted = target.protocol === "https:";
  const host = target.hostname.replace(/^\[(.*)\]$/, "$1");
  const port = Number(target.port) || (tlsWanted ? 443 : 80);
  const conn = await route.open({ host, port });
  const stream = routeStream(conn);
  const socket: Duplex = tlsWanted
    ? tls.connect({ socket: stream, servername: host, ALPNProtocols: ["http/1.1"] })
    : stream;
  const request = `GET ${target.pathname}${target.search} HTTP/1.0\r\nHost: ${target.host}\r\n` +
    "User-Agent: swiftproxy-local\r\nAccept: */*\r\nConnection: close\r\n\r\n";
  const chunks: Uint8Array[] = [];
  let size = 0;
  const timer = setTimeout(() => socket.destroy(new Error("no answer in time")), timeoutMs);
  try {
    await new Promise<void>((resolve, reject) => {
      socket.on("error", reject);
      socket.on("data", (chunk: Uint8Array) => {
        chunks.push(chunk);
        size += chunk.length;
        if (size > MAX_BODY) socket.destroy(new Error(`more than ${MAX_BODY} bytes`));
      });
      socket.on("end", () => resolve());
      socket.write(new TextEncoder().encode(request));
    });
  } finally {
    clearTimeout(timer);
    socket.destroy();
    conn.peer.close();
  }
  const all = new Uint8Array(size);
  let at = 0;
  for (const chunk of chunks) {
    all.set(chunk, at);
    at += chunk.length;
  }
  const head = decodeResponseHead(all);
  if (!head) throw new Error("the answer ended before its head");
  const { status, reason, headers } = head.value;
  if (status !== 200) throw new Error(`HTTP ${status} ${reason}`);
  const body = all.subarray(head.consumed);
  const length = headerValue(headers, "content-length");
  if (length !== undefined && Number(length) !== body.length) {
    throw new Error(`the body ended after ${body.length} of ${length} bytes`);
  }
  return new TextDecoder().decode(body);
}

/** A node stream over a route's connection: its first write goes through `first` (the header). */
function routeStream(conn: RouteConn): Duplex {
  let opened = false;
  return new Duplex({
    read() {
      conn.peer.read().then(
        (chunk) => this.push(chunk === null ? null : chunk.slice()),
        (error) => this.destroy(error),
      );
    },
    write(chunk: Uint8Array, _encoding, done) {
      const bytes = opened ? chunk : conn.first(chunk);
      opened = true;
      conn.peer.write(bytes).then(() => done(), done);
    },
    final(done) {
      conn.peer.closeWrite().then(() => done(), () => done());
    },
    destroy(error, done) {
      conn.peer.close();
      done(error);
    },
  });
}
