/** Each user's billing period: when it began and when the next monthly reset comes (UTC). */

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
