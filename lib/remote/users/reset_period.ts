/**
 * Each user's reset period: when it began and when the next reset comes (UTC): daily, weekly
 * (Mondays), monthly on the reset day, or yearly.
 */
import type { ResetPeriod, User } from "../store/user_store.ts";

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
