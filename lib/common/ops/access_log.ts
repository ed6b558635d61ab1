/** The access log: one line per finished session, as a subscriber to {@linkcode SessionEvents}. */
import { logger } from "./logging.ts";
import type { SessionEnd, SessionObserver } from "./session_events.ts";

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
    const fields = { ...end, who: who(end), duration: end.durationMs };
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
