/**
 * The HTTP(S) server of the programs' own pages (the local's dashboard, the remote's admin
 * panel): a `(Request) => Response` handler as `Deno.serve` takes, served on a listener this
 * module owns, so running out of file descriptors neither ends the process nor the panel.
 *
 * Why not `Deno.serve`: when its accept fails with EMFILE ("Too many open files") its promise
 * rejects, nothing can catch it in time and the process exits (measured under `ulimit -n 256`:
 * about 210 idle connections to the admin port ended the remote and every tunnel), and it
 * offers no cap on connections nor a deadline for a request that never ends. Here `node:http`
 * serves connections that a `node:net`/`node:tls` server accepts: a failed accept only stalls
 * it, and the {@linkcode AcceptWatchdog} of the tunnel listener notices and re-arms it.
 *
 * Each listener holds at most {@linkcode WEB_MAX_CONNECTIONS} connections (a new one beyond
 * that closes the oldest that is not answering a request nor a WebSocket, else is refused),
 * and a connection must send a whole request (head and body) within
 * {@linkcode WEB_REQUEST_TIMEOUT_MS} of opening or of its previous answer, else it is closed.
 */
import http from "node:http";
import https from "node:https";
import type { Socket } from "node:net";
// @ts-types="npm:@types/ws@8.18.1"
import type { WebSocket as NodeWebSocket, WebSocketServer } from "ws";
import { AcceptWatchdog, claimAddress, rearmNodeServer } from "../net/accept_watchdog.ts";
import { listenNow } from "../net/node_internals.ts";
import { logger } from "../ops/logging.ts";
import { formatHostPort } from "../../protocol/address.ts";
import { BodyTooLarge } from "./request_body.ts";
import { answerBytes } from "./http_answer.ts";

const log = logger("web");

/** Connections one page's listener holds at most. */
export const WEB_MAX_CONNECTIONS = 64;
/** Milliseconds a connection has to send a whole request, from opening or its last answer. */
export const WEB_REQUEST_TIMEOUT_MS = 10_000;
/** The largest WebSocket message a page may send (they send none; a close frame is small). */
const WS_MAX_PAYLOAD = 4096;

/** How to serve a page. */
export interface WebServerOptions {
  hostname: string;
  port: number;
  /** Certificate and key (PEM) to serve HTTPS with. */
  tls?: { cert: string; key: string };
  maxConnections?: number;
  requestTimeoutMs?: number;
  /** Answers one request; `source` is the client's address. */
  handler(request: Request, source: string): Response | Promise<Response>;
}

/** One accepted connection and what it is doing. */
interface Connection {
  /** `address:port` of the peer. */
  key: string;
  socket: Socket;
  /** Requests being answered; 0 while idle or reading a head. */
  busy: number;
  upgraded: boolean;
  timer: ReturnType<typeof setTimeout> | undefined;
}

/** What {@linkcode upgradeWebSocket} left for the server to finish after the handler. */
const upgrades = new WeakMap<Response, PendingWebSocket>();

/**
 * A page's HTTP server. Binding is checked at once, as `Deno.serve` does.
 *
 * @throws {Deno.errors.AddrInUse} when the address is taken
 * @example const server = new WebServer({ hostname: "127.0.0.1", port: 0, handler });
 */
export class WebServer {
  readonly addr: Deno.NetAddr;
  readonly #options: WebServerOptions;
  readonly #server: http.Server;
  readonly #watchdog: AcceptWatchdog;
  /** Made at the first upgrade: loading `ws` costs every start of either program 0.04 s. */
  #wss?: Promise<WebSocketServer>;
  /** By `address:port` of the peer (an HTTPS request sees the TLS socket, not the raw one). */
  readonly #connections = new Map<string, Connection>();
  #stopping = false;

  constructor(options: WebServerOptions) {
    this.#options = options;
    this.addr = claimAddress(options.hostname, options.port);
    this.#server = options.tls
      ? https.createServer({ cert: options.tls.cert, key: options.tls.key })
      : http.createServer();
    this.#watchdog = new AcceptWatchdog({
      hostname: this.addr.hostname,
      port: this.addr.port,
      rearm: () => rearmNodeServer(this.#server, this.addr),
      onStall: () => this.#shed(),
    });
    this.#server.on("connection", (socket: Socket) => this.#accepted(socket));
    this.#server.on("request", (req: http.IncomingMessage, res: http.ServerResponse) => {
      this.#request(req, res).catch((error) => {
        log.error("answering {path} failed: {error}", { path: req.url, error });
        res.destroy();
      });
    });
    this.#server.on("upgrade", (req: http.IncomingMessage, socket: Socket, head: Buffer) => {
      this.#upgrade(req, socket, head).catch((error) => {
        log.error("upgrading {path} failed: {error}", { path: req.url, error });
        socket.destroy();
      });
    });
    this.#server.on("clientError", (_error: Error, socket: Socket) => {
      if (socket.writable) socket.end("HTTP/1.1 400 Bad Request\r\nConnection: close\r\n\r\n");
      socket.destroy();
    });
    this.#server.on("tlsClientError", () => {
      // A failed handshake concerns only that client.
    });
    this.#server.on("error", (error: Error) => log.error("{error}", { error }));
    listenNow(this.#server, this.addr);
  }

  /** The page's address, e.g. `http://127.0.0.1:9090/` (loopback for a wildcard address). */
  get url(): string {
    const { hostname, port } = this.addr;
    const host = hostname === "0.0.0.0" ? "127.0.0.1" : hostname === "::" ? "::1" : hostname;
    return `${this.#options.tls ? "https" : "http"}://${formatHostPort({ host, port })}/`;
  }

  /**
   * Serves `pair` to the connections that open from now on (a renewed certificate); open
   * ones keep the one they were made with, so none is dropped.
   *
   * @throws {Error} for a server without TLS, or a pair node:tls cannot load
   * @example server.setCertificate({ cert: renewed.cert, key: renewed.key });
   */
  setCertificate(pair: { cert: string; key: string }): void {
    if (!this.#options.tls) throw new Error("this page is served without TLS");
    (this.#server as https.Server).setSecureContext({ cert: pair.cert, key: pair.key });
  }

  /** Open connections (WebSockets included). */
  get connections(): number {
    return this.#connections.size;
  }

  /** Stops listening, closes every connection, and settles when they are gone. */
  async shutdown(): Promise<void> {
    this.#stopping = true;
    this.#watchdog.stop();
    const closed = new Promise<void>((resolve) => this.#server.close(() => resolve()));
    for (const connection of this.#connections.values()) connection.socket.destroy();
    await closed;
  }

  #accepted(socket: Socket): void {
    if (this.#watchdog.noteAccept(socket.remoteAddress, socket.remotePort)) {
      return void socket.destroy();
    }
    if (this.#stopping) return void socket.destroy();
    const max = this.#options.maxConnections ?? WEB_MAX_CONNECTIONS;
    if (this.#connections.size >= max && this.#shed(1) === 0) {
      return void socket.destroy();
    }
    const key = `${socket.remoteAddress}:${socket.remotePort}`;
    const connection: Connection = { key, socket, busy: 0, upgraded: false, timer: undefined };
    this.#connections.set(key, connection);
    this.#arm(connection);
    socket.once("close", () => this.#drop(connection));
  }

  #drop(connection: Connection): void {
    clearTimeout(connection.timer);
    if (this.#connections.get(connection.key) === connection) {
      this.#connections.delete(connection.key);
    }
    connection.socket.destroy();
  }

  /** Closes up to `count` connections that answer nothing, oldest first; returns how many. */
  #shed(count = 32): number {
    let shed = 0;
    for (const connection of this.#connections.values()) {
      if (shed >= count) break;
      if (connection.busy > 0 || connection.upgraded) continue;
      this.#drop(connection);
      shed++;
    }
    return shed;
  }

  /** Gives the connection until the deadline to send a whole request. */
  #arm(connection: Connection): void {
    clearTimeout(connection.timer);
    connection.timer = setTimeout(
      () => this.#drop(connection),
      this.#options.requestTimeoutMs ?? WEB_REQUEST_TIMEOUT_MS,
    );
  }

  #connectionOf(req: http.IncomingMessage): Connection | undefined {
    return this.#connections.get(`${req.socket.remoteAddress}:${req.socket.remotePort}`);
  }

  async #request(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    const connection = this.#connectionOf(req);
    if (connection) {
      connection.busy++;
      // The request is whole once its body is read: then it has all the time it needs.
      req.once("end", () => clearTimeout(connection.timer));
      res.once("close", () => {
        connection.busy--;
        if (connection.busy === 0) this.#arm(connection);
      });
    }
    const request = this.#toRequest(req);
    if (!request) {
      res.writeHead(400, { "content-type": "text/plain", connection: "close" }).end();
      return;
    }
    if (request.body === null) req.resume();
    let response = await this.#answer(request, req);
    if (upgrades.has(response)) {
      // A WebSocket asked for without `Connection: upgrade`.
      response = new Response("expected a WebSocket upgrade\n", { status: 400 });
    }
    await writeResponse(res, response, req.method === "HEAD");
  }

  async #upgrade(req: http.IncomingMessage, socket: Socket, head: Buffer): Promise<void> {
    const connection = this.#connectionOf(req);
    if (connection) {
      connection.busy++;
      clearTimeout(connection.timer);
    }
    const request = this.#toRequest(req);
    const response = request
      ? await this.#answer(request, req)
      : new Response(null, { status: 400 });
    const pending = upgrades.get(response);
    if (!pending) {
      // A refused upgrade: the socket is ours to write the whole answer on.
      socket.end(await answerBytes(response));
      return;
    }
    if (connection) connection.upgraded = true;
    this.#wss ??= import("ws").then(({ WebSocketServer }) =>
      new WebSocketServer({ noServer: true, maxPayload: WS_MAX_PAYLOAD })
    );
    (await this.#wss).handleUpgrade(req, socket, head, (ws) => pending.attach(ws));
  }

  /** The handler's answer; a body past its limit gets 413 and the connection closes. */
  async #answer(request: Request, req: http.IncomingMessage): Promise<Response> {
    try {
      return await this.#options.handler(request, sourceOf(req));
    } catch (error) {
      if (!(error instanceof BodyTooLarge)) throw error;
      return new Response(`${error.message}\n`, {
        status: 413,
        headers: { "content-type": "text/plain; charset=utf-8", connection: "close" },
      });
    }
  }

  #toRequest(req: http.IncomingMessage): Request | null {
    try {
      const headers = new Headers();
      for (let i = 0; i + 1 < req.rawHeaders.length; i += 2) {
        headers.append(req.rawHeaders[i]!, req.rawHeaders[i + 1]!);
      }
      const scheme = this.#options.tls ? "https" : "http";
      const host = headers.get("host") ?? `${this.addr.hostname}:${this.addr.port}`;
      // As Deno.serve: the Host header and the path, never an address the path names.
      const path = req.url ?? "/";
      if (!path.startsWith("/")) return null;
      const url = new URL(`${scheme}://${host}${path}`);
      const hasBody = req.method !== "GET" && req.method !== "HEAD";
      return new Request(url, {
        method: req.method,
        headers,
        body: hasBody ? bodyStream(req) : null,
        // @ts-ignore: a streamed request body needs `duplex` (not in every lib's typings)
        duplex: "half",
      });
    } catch {
      return null;
    }
  }
}

/**
 * The request's body as a web stream, read as it is consumed. Not `Readable.toWeb`: under Deno
 * 2.9 a chunk arriving after its stream was cancelled (a body refused half-way) throws from
 * inside node's stream code, uncaught, and ends the process.
 */
function bodyStream(req: http.IncomingMessage): ReadableStream<Uint8Array> {
  let done = false;
  return new ReadableStream<Uint8Array>({
    start(controller) {
      req.on("data", (chunk: Uint8Array) => {
        if (done) return;
        controller.enqueue(new Uint8Array(chunk));
        if ((controller.desiredSize ?? 0) <= 0) req.pause();
      });
      req.once("end", () => {
        if (done) return;
        done = true;
        controller.close();
      });
      req.once("error", (error: Error) => {
        if (done) return;
        done = true;
        controller.error(error);
      });
    },
    pull() {
      req.resume();
    },
    cancel() {
      // The rest is read and dropped until the answer (413, `Connection: close`) ends it.
      done = true;
      req.resume();
    },
  });
}

/** The client's address, without the `::ffff:` of an IPv4 client on a dual-stack socket. */
function sourceOf(req: http.IncomingMessage): string {
  return (req.socket.remoteAddress ?? "").replace(/^::ffff:/i, "");
}

async function writeResponse(
  res: http.ServerResponse,
  response: Response,
  headOnly: boolean,
): Promise<void> {
  res.statusCode = response.status;
  for (const [name, value] of response.headers) {
    if (name !== "set-cookie") res.setHeader(name, value);
  }
  const cookies = response.headers.getSetCookie();
  if (cookies.length > 0) res.setHeader("set-cookie", cookies);
  if (!response.body || headOnly) {
    await response.body?.cancel();
    res.end();
    return;
  }
  for await (const chunk of response.body) {
    if (!res.write(chunk)) {
      await new Promise((resolve) => res.once("drain", resolve).once("close", resolve));
      if (res.destroyed) return;
    }
  }
  res.end();
}

/**
 * `Deno.upgradeWebSocket` for a request a {@linkcode WebServer} handles: return `response`
 * from the handler; `socket` opens once the handshake is done.
 *
 * @example
 * const { socket, response } = upgradeWebSocket(request);
 * socket.onopen = () => socket.send("hello");
 * return response;
 */
export function upgradeWebSocket(_request: Request): { socket: PageSocket; response: Response } {
  const socket = new PendingWebSocket();
  const response = new Response(null, { status: 200 });
  upgrades.set(response, socket);
  return { socket, response };
}

/** The parts of a browser `WebSocket` the pages' servers use. */
export interface PageSocket {
  onopen: ((event: Event) => void) | null;
  onclose: ((event: CloseEvent) => void) | null;
  onerror: ((event: Event) => void) | null;
  onmessage: ((event: MessageEvent) => void) | null;
  /** `WebSocket.CONNECTING`, `OPEN`, `CLOSING` or `CLOSED`. */
  readonly readyState: number;
  readonly bufferedAmount: number;
  send(data: string | Uint8Array): void;
  close(code?: number, reason?: string): void;
}

/** A {@linkcode PageSocket} over a `ws` socket that exists only once the upgrade is done. */
class PendingWebSocket implements PageSocket {
  onopen: ((event: Event) => void) | null = null;
  onclose: ((event: CloseEvent) => void) | null = null;
  onerror: ((event: Event) => void) | null = null;
  onmessage: ((event: MessageEvent) => void) | null = null;
  #ws: NodeWebSocket | null = null;
  #closedEarly = false;

  get readyState(): number {
    return this.#ws?.readyState ?? (this.#closedEarly ? WebSocket.CLOSED : WebSocket.CONNECTING);
  }

  get bufferedAmount(): number {
    return this.#ws?.bufferedAmount ?? 0;
  }

  send(data: string | Uint8Array): void {
    if (!this.#ws) throw new DOMException("the WebSocket is not open", "InvalidStateError");
    this.#ws.send(data);
  }

  close(code?: number, reason?: string): void {
    if (this.#ws) this.#ws.close(code, reason);
    else this.#closedEarly = true;
  }

  attach(ws: NodeWebSocket): void {
    this.#ws = ws;
    ws.on("message", (data) => this.onmessage?.(new MessageEvent("message", { data })));
    ws.on("error", () => this.onerror?.(new Event("error")));
    ws.on("close", (code, reason) => {
      this.onclose?.(new CloseEvent("close", { code, reason: reason.toString() }));
    });
    if (this.#closedEarly) return void ws.close(1001);
    this.onopen?.(new Event("open"));
  }
}
