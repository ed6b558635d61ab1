/**
 * Usage resets: daily, weekly (Mondays), monthly on each user's reset day (1–28) or yearly
 * (January 1st), at UTC midnight; once per period, even across restarts, missed days and many
 * nodes, because the store keeps each user's last reset and resets only a user not reset since
 * the period began.
 */
import { logger } from "../../common/ops/logging.ts";
import type { Accounts } from "../users/accounts.ts";
import type { ResetPeriod, User, UserStore } from "../store/user_store.ts";
import type { Clock } from "./usage_sampler.ts";

const log = logger("remote", "reset");

/**
 * The start of the billing period holding `now` for reset day `day`: that day of this month
 * at 00:00 UTC, or of last month when it has not come yet.
 *
 * @example periodStart(Date.UTC(2030, 4, 3), 5) // Date.UTC(2030, 3, 5)
 */
export function periodStart(now: number, day: number): number {
  const date = new Date(now);
  const thisMonth = Date.UTC(date.getUTCFullYear(), date.getUTCMonth(), day);
  return thisMonth <= now
    ? thisMonth
    : Date.UTC(date.getUTCFullYear(), date.getUTCMonth() - 1, day);
}

/** The next reset after `now` for reset day `day`, Unix milliseconds. */
export function nextReset(now: number, day: number): number {
  const start = new Date(periodStart(now, day));
  return Date.UTC(start.getUTCFullYear(), start.getUTCMonth() + 1, day);
}

const DAY_MS = 86_400_000;

/** A user's reset period: its `--reset`, monthly for a reset day alone, or null for none. */
function periodOf(u: Pick<User, "resetPeriod" | "resetDay">): ResetPeriod | null {
  return u.resetPeriod ?? (u.resetDay ? "monthly" : null);
}

/**
 * The start of the reset period holding `now` for a user's `--reset` and `--reset-day`, or
 * null when it has none: today's, this week's (Monday), this month's (its reset day, else the
 * 1st) or this year's 00:00 UTC.
 *
 * @example resetPeriodStart(Date.UTC(2030, 4, 3, 12), { resetPeriod: "daily" }) // Date.UTC(2030, 4, 3)
 */
export function resetPeriodStart(
  now: number,
  u: Pick<User, "resetPeriod" | "resetDay">,
): number | null {
  const date = new Date(now);
  const today = Date.UTC(date.getUTCFullYear(), date.getUTCMonth(), date.getUTCDate());
  switch (periodOf(u)) {
    case "daily":
      return today;
    case "weekly":
      return today - ((date.getUTCDay() + 6) % 7) * DAY_MS;
    case "monthly":
      return periodStart(now, u.resetDay || 1);
    case "yearly":
      return Date.UTC(date.getUTCFullYear(), 0, 1);
    default:
      return null;
  }
}

/** The next reset after `now` for a user's `--reset` and `--reset-day`, or null for none. */
export function nextResetOf(now: number, u: Pick<User, "resetPeriod" | "resetDay">): number | null {
  const start = resetPeriodStart(now, u);
  if (start === null) return null;
  const d = new Date(start);
  switch (periodOf(u)) {
    case "daily":
      return start + DAY_MS;
    case "weekly":
      return start + 7 * DAY_MS;
    case "yearly":
      return Date.UTC(d.getUTCFullYear() + 1, 0, 1);
    default:
      return nextReset(now, u.resetDay || 1);
  }
}

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
