/** The access log: one line per finished session, as a subscriber to {@linkcode SessionEvents}. */
import { logger } from "./logging.ts";
import type { OutcomeKind, SessionEnd, SessionObserver, SessionOutcome } from "./session_events.ts";

/** The kinds whose words are not their names. */
const WORDS: Partial<Record<OutcomeKind, string>> = {
  "handshake-failed": "handshake failed",
  "closed-at-once": "remote-closed-at-once",
};

/**
 * An outcome in the access log's words: its kind, then its detail in brackets.
 *
 * @example outcomeWords({ kind: "tunnel-failed", detail: "timeout" }); // "tunnel-failed (timeout)"
 */
export function outcomeWords({ kind, detail }: SessionOutcome): string {
  const words = WORDS[kind] ?? kind;
  return detail === undefined ? words : `${words} (${detail})`;
}

/**
 * A subscriber that logs each finished session at `info` under `swiftproxy.<program>.access`.
 * The local names a line by its client protocol, the remote by its user.
 *
 * @example events.subscribe(accessLog("remote"));
 */
export function accessLog(program: "local" | "remote"): SessionObserver {
  const log = logger(program, "access");
  const who = program === "local"
    ? (end: SessionEnd) => end.protocol
    : (end: SessionEnd) => end.user;
  return (end) => {
    // Per connection: with the access log off, not even its fields are built.
    if (!log.isEnabledFor(end.quiet ? "debug" : "info")) return;
    const write = (message: string, properties: Record<string, unknown>) =>
      end.quiet ? log.debug(message, properties) : log.info(message, properties);
    const fields = {
      ...end,
      who: who(end),
      duration: end.durationMs,
      // The route and its rule where the local's rules decided, after the reason.
      reason: end.route
        ? `${outcomeWords(end.outcome)} route=${end.route} rule=${end.rule}`
        : outcomeWords(end.outcome),
    };
    if (end.command === "udp") {
      write(
        "{who} {client} UDP first to {destination} datagrams up={datagramsUp} down={datagramsDown} up={up} down={down} {duration}ms closed: {reason}",
        { ...fields, datagramsUp: end.datagrams?.up ?? 0, datagramsDown: end.datagrams?.down ?? 0 },
      );
    } else if (end.error === undefined) {
      write(
        "{who} {client} -> {destination} up={up} down={down} {duration}ms closed: {reason}",
        fields,
      );
    } else {
      write(
        "{who} {client} -> {destination} up={up} down={down} {duration}ms closed: {reason} ({error})",
        fields,
      );
    }
  };
}
