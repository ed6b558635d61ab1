/**
 * Finished sessions as one typed record, and the subscribers that observe them: the access
 * log is one; metrics, the admin panel's live view and usage history subscribe the same way.
 * Nothing in the data path knows who listens.
 */

/** One finished client session (a TCP tunnel or a UDP association), on either program. */
export interface SessionEnd {
  /** The account the session belonged to ("" where the program does not know it). */
  user: string;
  /** How the client reached this program: "SOCKS5" or "HTTP" on the local, "trojan" on the remote. */
  protocol: string;
  command: "connect" | "udp";
  /** The client's address, `host:port`. */
  client: string;
  /** Where the session went, `host:port` ("-" when it never got that far). */
  destination: string;
  /** Bytes from the client towards the destination, and back. */
  up: number;
  down: number;
  durationMs: number;
  /** Why it closed, in the access log's words (`client-closed`, `refused`, …). */
  reason: string;
  /** The error behind a failure, when there is one. */
  error?: unknown;
}

/** A subscriber; it must not throw or block (it runs on the data path's turn). */
export type SessionObserver = (end: SessionEnd) => void;

/**
 * The list of subscribers to finished sessions.
 *
 * @example
 * const events = new SessionEvents();
 * const unsubscribe = events.subscribe((end) => console.log(end.reason));
 * events.publish(end);
 */
export class SessionEvents {
  readonly #observers = new Set<SessionObserver>();

  /** Adds a subscriber; the returned function removes it. */
  subscribe(observer: SessionObserver): () => void {
    this.#observers.add(observer);
    return () => this.#observers.delete(observer);
  }

  /** Tells every subscriber; one that throws does not stop the others. */
  publish(end: SessionEnd): void {
    for (const observer of this.#observers) {
      try {
        observer(end);
      } catch {
        // An observer's failure is its own; the session has already ended.
      }
    }
  }
}
