/**
 * Finished sessions as one typed record, and the subscribers that observe them: the access
 * log is one; metrics, the admin panel's live view and usage history subscribe the same way.
 * Nothing in the data path knows who listens.
 */

/**
 * How a session ended, on either program. The relay's own ends (`done`: both sides finished;
 * `client-reset`, `server-reset`: one side failed; `aborted`: a kick, an idle timeout, a
 * shutdown; `refused`: refused before or at its first bytes), and before or instead of a relay:
 * - `handshake-failed`: the client's handshake broke off (the local);
 * - `tunnel-failed`: no tunnel to the remote could be opened (the local);
 * - `closed-at-once`: the remote closed a new tunnel before any byte came back (the local);
 * - `remote-closed`: the remote closed a UDP association's tunnel (the local);
 * - `tunnel-lost`: the Mux.Cool tunnel the session shared with others failed (the local);
 * - `not-allowed`, `blocked`, `unresolved`, `unreachable` (and `refused`): the destination's
 *   dial failed or a guard refused it (the remote);
 * - `idle-timeout`, `bad-frame`: a UDP association went quiet, or sent a frame that cannot be
 *   followed (the remote);
 * - `error`: anything else (a socket failed, a bug).
 */
export type OutcomeKind =
  | "done"
  | "client-reset"
  | "server-reset"
  | "aborted"
  | "refused"
  | "handshake-failed"
  | "tunnel-failed"
  | "closed-at-once"
  | "remote-closed"
  | "tunnel-lost"
  | "not-allowed"
  | "blocked"
  | "unresolved"
  | "unreachable"
  | "idle-timeout"
  | "bad-frame"
  | "error";

/**
 * How a session ended: its kind, and a detail where one helps (the tunnel error's kind, the
 * refusal's reason). Only the access log turns it into words.
 *
 * @example const outcome: SessionOutcome = { kind: "tunnel-failed", detail: "timeout" };
 */
export interface SessionOutcome {
  kind: OutcomeKind;
  detail?: string;
}

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
  /** Datagrams each way, for a UDP association. */
  datagrams?: { up: number; down: number };
  durationMs: number;
  /** Why it closed. */
  outcome: SessionOutcome;
  /** Where the local's rules sent it (`proxy`, `direct`, `rejected`); absent without rules. */
  route?: string;
  /** The rule that decided, as written. */
  rule?: string;
  /** The error behind a failure, when there is one. */
  error?: unknown;
  /** Logged at `debug` rather than `info`: noise, such as a browser's lookups of names that do not exist. */
  quiet?: boolean;
}

/** A subscriber; it must not throw or block (it runs on the data path's turn). */
export type SessionObserver = (end: SessionEnd) => void;

/**
 * A connection refused before any session began (a wrong credential, a probe sent to the
 * fallback, a disabled account), for counters; the log has its own line for each.
 */
export interface SessionRefusal {
  /** The client's address, `host:port`. */
  client: string;
  /** The account, when the credential was known ("" otherwise). */
  user: string;
  /** What it counts as: `auth_failed`, `fallback`, `bad_header`, `refused_account`, … */
  result: string;
}

/** A subscriber to refusals; like a {@linkcode SessionObserver}, it must not throw or block. */
export type RefusalObserver = (refusal: SessionRefusal) => void;

/**
 * The list of subscribers to finished sessions.
 *
 * @example
 * const events = new SessionEvents();
 * const unsubscribe = events.subscribe((end) => console.log(end.outcome.kind));
 * events.publish(end);
 */
export class SessionEvents {
  readonly #observers = new Set<SessionObserver>();
  readonly #refusalObservers = new Set<RefusalObserver>();

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

  /** Adds a subscriber to refusals; the returned function removes it. */
  subscribeRefusals(observer: RefusalObserver): () => void {
    this.#refusalObservers.add(observer);
    return () => this.#refusalObservers.delete(observer);
  }

  /** Tells every refusal subscriber; one that throws does not stop the others. */
  refused(refusal: SessionRefusal): void {
    for (const observer of this.#refusalObservers) {
      try {
        observer(refusal);
      } catch {
        // As for publish: the observer's failure is its own.
      }
    }
  }
}
