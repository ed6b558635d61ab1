/**
 * Usage resets: daily, weekly (Mondays), monthly on each user's reset day (1–28) or yearly
 * (January 1st), at UTC midnight; once per period, even across restarts, missed days and many
 * nodes, because the store keeps each user's last reset and resets only a user not reset since
 * the period began.
 */
import { logger } from "../../common/ops/logging.ts";
import type { Accounts } from "../users/accounts.ts";
import type { UserStore } from "../store/user_store.ts";
import type { Clock } from "./usage_sampler.ts";
import { resetPeriodStart } from "../users/reset_period.ts";

export { nextReset, nextResetOf, periodStart, resetPeriodStart } from "../users/reset_period.ts";

const log = logger("remote", "reset");

/**
 * Checks every `intervalMs` (a minute) for users whose period began since their last reset,
 * and resets them through the store; the accounts then pick the change up, as after
 * `user reset-usage`.
 *
 * @example const resets = new MonthlyReset(store, server.accounts); await resets.check();
 */
export class MonthlyReset {
  readonly #store: UserStore;
  readonly #accounts: Accounts;
  readonly #clock: Clock;
  readonly #timer: ReturnType<typeof setInterval> | undefined;
  #running: Promise<number> | null = null;

  constructor(
    store: UserStore,
    accounts: Accounts,
    options: { intervalMs?: number; clock?: Clock } = {},
  ) {
    this.#store = store;
    this.#accounts = accounts;
    this.#clock = options.clock ?? Date.now;
    const every = options.intervalMs ?? 60_000;
    if (every > 0) this.#timer = setInterval(() => this.check().catch(() => {}), every);
  }

  /** Resets whoever is due now; resolves to how many were reset. */
  check(): Promise<number> {
    this.#running ??= this.#check().finally(() => this.#running = null);
    return this.#running;
  }

  async #check(): Promise<number> {
    const now = this.#clock();
    let count = 0;
    try {
      for (const user of await this.#store.list()) {
        const start = resetPeriodStart(now, user);
        if (start === null) continue;
        if ((user.lastResetAt ?? -Infinity) >= start) continue;
        if (await this.#store.resetUsageForPeriod(user.name, start, now)) {
          count++;
          const bytes = user.bytesUp + user.bytesDown;
          if (user.resetPeriod) {
            log.info("{period} reset of {user}'s usage (was {bytes} bytes)", {
              period: user.resetPeriod,
              user: user.name,
              bytes,
            });
          } else {
            log.info("monthly reset of {user}'s usage (reset day {day}; was {bytes} bytes)", {
              user: user.name,
              day: user.resetDay,
              bytes,
            });
          }
        }
      }
      if (count > 0) await this.#accounts.reload();
    } catch (error) {
      log.warn("monthly reset check failed, trying again later: {error}", { error });
    }
    return count;
  }

  /** Stops checking. */
  async stop(): Promise<void> {
    clearInterval(this.#timer);
    await this.#running;
  }
}
