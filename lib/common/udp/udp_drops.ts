/**
 * Datagrams a UDP relay drops (malformed, too large, from a stranger, refused by policy),
 * counted by reason. Each reason's first drop is logged at debug with its detail; the totals
 * go in one debug line when the association ends, so a flood of bad datagrams costs no more
 * than counting them.
 */
import type { Logger } from "@logtape/logtape";

/** Counts of dropped datagrams by reason, for one association. */
export class UdpDrops {
  readonly #log: Logger;
  readonly #who: string;
  readonly counts = new Map<string, number>();

  /**
   * @param log where the debug lines go
   * @param who names the association in those lines (its client)
   */
  constructor(log: Logger, who: string) {
    this.#log = log;
    this.#who = who;
  }

  /**
   * Counts one dropped datagram.
   *
   * @example drops.drop("fragment", "FRAG 1")
   */
  drop(reason: string, detail?: string): void {
    const count = (this.counts.get(reason) ?? 0) + 1;
    this.counts.set(reason, count);
    if (count === 1) {
      this.#log.debug("{who}: dropped a datagram ({reason}{detail}); later ones are counted", {
        who: this.#who,
        reason,
        detail: detail ? `: ${detail}` : "",
      });
    }
  }

  /** Datagrams dropped so far, all reasons. */
  get total(): number {
    let total = 0;
    for (const count of this.counts.values()) total += count;
    return total;
  }

  /** Logs the totals by reason, if anything was dropped. */
  report(): void {
    if (this.counts.size === 0) return;
    this.#log.debug("{who}: dropped {total} datagram(s): {counts}", {
      who: this.#who,
      total: this.total,
      counts: [...this.counts].map(([reason, n]) => `${reason} ${n}`).join(", "),
    });
  }
}
