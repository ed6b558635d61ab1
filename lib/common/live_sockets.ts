/**
 * The WebSockets of a live page (the local's dashboard, the remote's admin panel): upgrade,
 * the first message, the same JSON to all of them every second, and a close on shutdown.
 */
import { text } from "./http_replies.ts";
import { upgradeWebSocket } from "./web_server.ts";

/** Open WebSocket connections of one page, fed the same JSON document. */
export class LiveSockets {
  readonly #sockets = new Set<WebSocket>();
  readonly #snapshot: () => unknown;

  /** `snapshot` is the document every socket gets: on open and at each broadcast. */
  constructor(snapshot: () => unknown) {
    this.#snapshot = snapshot;
  }

  /** Upgrades `request` (426 if it is not a WebSocket upgrade) and sends the first document. */
  upgrade(request: Request): Response {
    if (request.headers.get("upgrade")?.toLowerCase() !== "websocket") {
      return text(426, "expected a WebSocket upgrade\n");
    }
    const { socket, response } = upgradeWebSocket(request);
    socket.onopen = () => {
      this.#sockets.add(socket);
      socket.send(JSON.stringify(this.#snapshot()));
    };
    socket.onclose = () => this.#sockets.delete(socket);
    socket.onerror = () => this.#sockets.delete(socket);
    return response;
  }

  /** Sends the document to every socket; a page that cannot keep up skips messages. */
  broadcast(): void {
    if (this.#sockets.size === 0) return;
    const message = JSON.stringify(this.#snapshot());
    for (const socket of this.#sockets) {
      if (socket.readyState === WebSocket.OPEN && socket.bufferedAmount < 1 << 20) {
        socket.send(message);
      }
    }
  }

  /** Closes every socket with `reason`. */
  closeAll(reason: string): void {
    for (const socket of this.#sockets) socket.close(1001, reason);
  }
}
