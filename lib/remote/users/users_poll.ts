/**
 * The server's housekeeping of the users store: picks up changes and closes whoever must go 4
 * times a second (so a change applies within 1 s with room to spare), and writes usage every
 * other time.
 */
import { logger } from "../../common/ops/logging.ts";
import type { Accounts } from "./accounts.ts";

const log = logger("remote");
/** How often the users are checked for changes and limits enforced. */
const POLL_MS = 250;
/** Usage is written every this many checks (every 0.5 s). */
const FLUSH_EVERY = 2;

/**
 * Polls `accounts` until stopped; a busy or failing store is logged and tried again next time.
 *
 * @example
 * const poll = new UsersPoll(accounts);
 * await poll.stop(); // then one last accounts.flush()
 */
export class UsersPoll {
  readonly #accounts: Accounts;
  readonly #timer: ReturnType<typeof setInterval>;
  #ticks = 0;
  /** The round in progress, so a slow store never gets two at once. */
  #round: Promise<void> | null = null;

  constructor(accounts: Accounts) {
    this.#accounts = accounts;
    this.#timer = setInterval(() => this.#tick(), POLL_MS);
  }

  #tick(): void {
    if (this.#round) return;
    this.#round = this.#poll().finally(() => this.#round = null);
  }

  async #poll(): Promise<void> {
    try {
      await this.#accounts.reload();
      if (++this.#ticks % FLUSH_EVERY === 0) await this.#accounts.flush();
    } catch (error) {
      log.warn("the users database is busy, trying again shortly: {error}", { error });
    }
  }

  /** Stops polling, once the round in progress (if any) is done. */
  async stop(): Promise<void> {
    clearInterval(this.#timer);
    await this.#round;
  }
}
