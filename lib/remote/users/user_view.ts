/** How `user list` shows users: a table for people, JSON for scripts. */
import { formatBytes } from "../../common/ops/units.ts";
import type { ResetPeriod, User } from "../store/user_store.ts";
import { columns } from "../../common/ops/printable.ts";

function describeLimit(bytes: number, suffix = ""): string {
  return bytes === 0 ? "unlimited" : `${formatBytes(bytes)}${suffix}`;
}

/** A duration of `--expires-after` as it was given: `30d`, `2w`, `12h`. */
export function describeDuration(ms: number): string {
  for (const [unit, size] of [["w", 604_800_000], ["d", 86_400_000]] as const) {
    if (ms % size === 0) return `${ms / size}${unit}`;
  }
  return `${Math.round(ms / 3600_000)}h`;
}

/**
 * The `user list --json` entry of a user (times as ISO strings), with the addresses it was seen
 * from (`sources`: newest first).
 */
export function userJson(u: User, sources: { source: string; at: number }[] = []) {
  return {
    name: u.name,
    status: userStatus(u),
    group: u.group ?? null,
    enabled: u.enabled,
    upLimit: u.upLimit,
    downLimit: u.downLimit,
    quota: u.quota,
    maxConns: u.maxConns,
    expiresAt: u.expiresAt === null ? null : new Date(u.expiresAt).toISOString(),
    /** `--expires-after` while on hold (before the first login), as given: `30d`. */
    expiresAfter: u.expiresAfter === undefined ? null : describeDuration(u.expiresAfter),
    maxIps: u.maxIps ?? 0,
    /** The addresses (an IPv6 /64 as one) it was seen from, and when last, newest first. */
    addresses: sources.map((s) => ({ address: s.source, lastSeen: new Date(s.at).toISOString() })),
    bytesUp: u.bytesUp,
    bytesDown: u.bytesDown,
    openConns: u.openConns,
    resetDay: u.resetDay ?? 0,
    reset: resetPeriodOf(u),
    lastResetAt: u.lastResetAt === undefined ? null : new Date(u.lastResetAt).toISOString(),
    /** Whether the user has a destination block list of their own (`user set --block`). */
    blockList: Boolean(u.blockList),
    createdAt: new Date(u.createdAt).toISOString(),
    updatedAt: new Date(u.updatedAt).toISOString(),
  };
}

/** How often a user's usage resets: its `--reset`, monthly for a reset day alone, or null. */
export function resetPeriodOf(u: User): ResetPeriod | null {
  return u.resetPeriod ?? (u.resetDay ? "monthly" : null);
}

/** The reset: `day 5 (last 2030-05-05)`, `weekly (last …)`, or `never`. */
function describeReset(u: User): string {
  const period = resetPeriodOf(u);
  if (!period) return "never";
  const last = u.lastResetAt === undefined
    ? ""
    : new Date(u.lastResetAt).toISOString().slice(0, 10);
  const when = period === "monthly" ? `day ${u.resetDay || 1}` : period;
  return `${when}${last ? ` (last ${last})` : ""}`;
}

/** When access ends: a date, `on hold (30d)` before the first login, or `never`. */
export function describeExpiry(u: User): string {
  if (u.expiresAfter !== undefined) return `on hold (${describeDuration(u.expiresAfter)})`;
  return u.expiresAt === null ? "never" : new Date(u.expiresAt).toISOString().slice(0, 10);
}

/** What a user's state is now: active, on hold, disabled, expired or over quota. */
export function userStatus(u: User, now = Date.now()): string {
  return !u.enabled
    ? "disabled"
    : u.expiresAfter !== undefined
    ? "on hold"
    : u.expiresAt !== null && u.expiresAt <= now
    ? "expired"
    : u.quota > 0 && u.bytesUp + u.bytesDown >= u.quota
    ? "over quota"
    : "active";
}

/**
 * The `user list` table: one row per user, columns padded to fit.
 *
 * @example console.log(userTable(await store.list()));
 */
export function userTable(users: User[]): string {
  const rows = [[
    "NAME",
    "STATUS",
    "UP LIMIT",
    "DOWN LIMIT",
    "QUOTA",
    "USED UP",
    "USED DOWN",
    "CONNS",
    "MAX CONNS",
    "MAX IPS",
    "EXPIRES",
    "RESETS",
    "GROUP",
  ]];
  const now = Date.now();
  for (const u of users) {
    rows.push([
      u.name,
      userStatus(u, now),
      describeLimit(u.upLimit, "/s"),
      describeLimit(u.downLimit, "/s"),
      describeLimit(u.quota),
      formatBytes(u.bytesUp),
      formatBytes(u.bytesDown),
      String(u.openConns),
      u.maxConns === 0 ? "default" : String(u.maxConns),
      u.maxIps ? String(u.maxIps) : "any",
      describeExpiry(u),
      describeReset(u),
      u.group ?? "-",
    ]);
  }
  return columns(rows);
}
