/**
 * The WebSockets of a live page (the local's dashboard, the remote's admin panel): upgrade,
 * the first message, the same JSON to all of them every second, and a close on shutdown.
 */
import { text } from "./http_replies.ts";
import { upgradeWebSocket } from "./web_server.ts";
import type { PageSocket } from "./web_server.ts";

/** Open WebSocket connections of one page, fed the same JSON document. */
export class LiveSockets {
  /** Each open socket, with whether what it was opened for (a login) still holds. */
  readonly #sockets = new Map<PageSocket, () => boolean>();
  readonly #snapshot: () => unknown;

  /** `snapshot` is the document every socket gets: on open and at each broadcast. */
  constructor(snapshot: () => unknown) {
    this.#snapshot = snapshot;
  }

  /**
   * Upgrades `request` (426 if it is not a WebSocket upgrade) and sends the first document.
   * Once `alive` answers false (a session ended), the socket is closed at the next broadcast
   * or {@linkcode LiveSockets.prune}.
   */
  upgrade(request: Request, alive: () => boolean = () => true): Response {
    if (request.headers.get("upgrade")?.toLowerCase() !== "websocket") {
      return text(426, "expected a WebSocket upgrade\n");
    }
    const { socket, response } = upgradeWebSocket(request);
    socket.onopen = () => {
      this.#sockets.set(socket, alive);
      socket.send(JSON.stringify(this.#snapshot()));
    };
    socket.onclose = () => this.#sockets.delete(socket);
    socket.onerror = () => this.#sockets.delete(socket);
    return response;
  }

  /** Sends the document to every socket; a page that cannot keep up skips messages. */
  broadcast(): void {
    this.prune();
    if (this.#sockets.size === 0) return;
    const message = JSON.stringify(this.#snapshot());
    for (const socket of this.#sockets.keys()) {
      if (socket.readyState === WebSocket.OPEN && socket.bufferedAmount < 1 << 20) {
        socket.send(message);
      }
    }
  }

  /** Closes the sockets whose `alive` answers false (1008, "session ended"). */
  prune(): void {
    for (const [socket, alive] of this.#sockets) {
      if (alive()) continue;
      this.#sockets.delete(socket);
      socket.close(1008, "session ended");
    }
  }

  /** Closes every socket with `reason`. */
  closeAll(reason: string): void {
    for (const socket of this.#sockets.keys()) socket.close(1001, reason);
  }
}
