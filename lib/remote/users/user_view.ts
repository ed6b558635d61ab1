/** How `user list` shows users: a table for people, JSON for scripts. */
import { formatBytes } from "../../common/ops/units.ts";
import { columns } from "../../common/ops/printable.ts";
import type { User } from "../store/user_store.ts";

function describeLimit(bytes: number, suffix = ""): string {
  return bytes === 0 ? "unlimited" : `${formatBytes(bytes)}${suffix}`;
}

/** The `user list --json` entry of a user (times as ISO strings). */
export function userJson(u: User) {
  return {
    name: u.name,
    enabled: u.enabled,
    upLimit: u.upLimit,
    downLimit: u.downLimit,
    quota: u.quota,
    maxConns: u.maxConns,
    expiresAt: u.expiresAt === null ? null : new Date(u.expiresAt).toISOString(),
    bytesUp: u.bytesUp,
    bytesDown: u.bytesDown,
    openConns: u.openConns,
    resetDay: u.resetDay ?? 0,
    lastResetAt: u.lastResetAt === undefined ? null : new Date(u.lastResetAt).toISOString(),
    /** Whether the user has a destination block list of their own (`user set --block`). */
    blockList: Boolean(u.blockList),
    createdAt: new Date(u.createdAt).toISOString(),
    updatedAt: new Date(u.updatedAt).toISOString(),
  };
}

/** The monthly reset: `day 5 (last 2030-05-05)`, or `never`. */
function describeReset(u: User): string {
  if (!u.resetDay) return "never";
  const last = u.lastResetAt === undefined
    ? ""
    : new Date(u.lastResetAt).toISOString().slice(0, 10);
  return `day ${u.resetDay}${last ? ` (last ${last})` : ""}`;
}

/** What a user's state is now: active, disabled, expired or over quota. */
export function userStatus(u: User, now = Date.now()): string {
  return !u.enabled
    ? "disabled"
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
    "EXPIRES",
    "RESETS",
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
      u.expiresAt === null ? "never" : new Date(u.expiresAt).toISOString().slice(0, 10),
      describeReset(u),
    ]);
  }
  return columns(rows);
}
