/**
 * The admin panel's JSON API on users and connections. Every change goes through the same
 * store calls as the `user` commands, then reloads the accounts, so it applies at once, as a
 * change from the CLI does within a second.
 */
import { logger } from "../../common/ops/logging.ts";
import { generatePassword } from "../users/password.ts";
import { TunnelSession } from "../users/accounts.ts";
import type { Accounts } from "../users/accounts.ts";
import { HISTORY_RETENTION_MS, UserError } from "../store/user_store.ts";
import { limitsFromJson, nameFromJson } from "../users/user_fields.ts";
import type { UsageResolution, UserLimits, UserStore } from "../store/user_store.ts";
import { SERVER_HISTORY_ID } from "../ops/usage_history.ts";
import { userView } from "./users_view.ts";
import { parseSince } from "../users/audit.ts";
import type { AuditEntry } from "../store/admin_store.ts";
import type { UserView } from "./users_view.ts";

const log = logger("remote", "admin");

/** A request the API refuses, with its HTTP status and a message for the page. */
export class ApiError extends Error {
  constructor(readonly status: number, message: string) {
    super(message);
    this.name = "ApiError";
  }
}

/** What the API works on. */
export interface ApiDeps {
  store: UserStore;
  accounts: Accounts;
  /** Each user's latest rate (bytes/s), by user id. */
  rates: ReadonlyMap<number, { up: number; down: number }>;
}

const NO_RATE = Object.freeze({ up: 0, down: 0 });

/** Every user's view, ordered by name. */
export function allUsers(deps: ApiDeps): UserView[] {
  const now = Date.now();
  return deps.accounts.list().map((a) => userView(a, deps.rates.get(a.user.id) ?? NO_RATE, now));
}

function one(deps: ApiDeps, name: string): UserView {
  const account = deps.accounts.byName(name);
  if (!account) throw new ApiError(404, `no user named "${name}"`);
  return userView(account, deps.rates.get(account.user.id) ?? NO_RATE);
}

/**
 * The limits in a request body, checked as the `user` commands check their options (one
 * schema: `lib/remote/users/user_fields.ts`); fields left out stay as they are.
 *
 * @throws {ApiError} 400 naming the field and what was expected
 */
export function limitsOf(body: Record<string, unknown>): UserLimits {
  return refusedAs400(() => limitsFromJson(body));
}

/** Runs a check, turning its `RangeError` into a 400. */
function refusedAs400<T>(check: () => T): T {
  try {
    return check();
  } catch (error) {
    if (error instanceof RangeError) throw new ApiError(400, error.message);
    throw error;
  }
}

/**
 * A user name from a path segment (`/api/users/SEGMENT`), percent-decoded.
 *
 * @throws {ApiError} 400 for a malformed `%` escape
 */
export function nameInPath(segment: string): string {
  try {
    return decodeURIComponent(segment);
  } catch {
    throw new ApiError(400, `the path holds a malformed % escape: "${segment}"`);
  }
}

/** Runs a store call, turning its refusals into API errors. */
async function change<T>(work: () => Promise<T>): Promise<T> {
  try {
    return await work();
  } catch (error) {
    if (error instanceof UserError) {
      throw new ApiError(/^no user named/.test(error.message) ? 404 : 400, error.message);
    }
    throw error;
  }
}

/**
 * `POST /api/users`: adds a user; answers the generated password once when none was given.
 *
 * @throws {ApiError} 400 for a bad or taken name or a bad limit
 */
export async function addUser(
  deps: ApiDeps,
  body: Record<string, unknown>,
): Promise<{ user: UserView; password?: string }> {
  const name = refusedAs400(() => nameFromJson(body.name));
  const limits = limitsOf(body);
  if (!["string", "undefined"].includes(typeof body.password) && body.password !== null) {
    throw new ApiError(
      400,
      "password: expected text of at least 8 characters (or none, to generate one)",
    );
  }
  const given = typeof body.password === "string" && body.password !== "" ? body.password : null;
  if (given !== null && given.length < 8) {
    throw new ApiError(400, "password: expected at least 8 characters (or none, to generate one)");
  }
  const password = given ?? generatePassword();
  await change(() => deps.store.add(name, password, limits));
  await deps.accounts.reload();
  log.info("admin: added user {user}", { user: name });
  return { user: one(deps, name), ...(given === null ? { password } : {}) };
}

/** `PATCH /api/users/NAME`: changes the limits given. */
export async function setUser(
  deps: ApiDeps,
  name: string,
  body: Record<string, unknown>,
): Promise<UserView> {
  const limits = limitsOf(body);
  if (Object.keys(limits).length === 0) throw new ApiError(400, "nothing to change");
  await change(() => deps.store.setLimits(name, limits));
  await deps.accounts.reload();
  log.info("admin: changed {fields} of {user}", { user: name, fields: Object.keys(limits) });
  return one(deps, name);
}

/** `POST /api/users/NAME/ACTION`: enable, disable, reset-usage. */
export async function userAction(deps: ApiDeps, name: string, action: string): Promise<UserView> {
  const actions: Record<string, () => Promise<unknown>> = {
    enable: () => deps.store.setEnabled(name, true),
    disable: () => deps.store.setEnabled(name, false),
    "reset-usage": () => deps.store.resetUsage(name),
  };
  // Own keys only: "constructor" or "__proto__" are not actions.
  const run = Object.hasOwn(actions, action) ? actions[action] : undefined;
  if (!run) throw new ApiError(404, `no action "${action}"`);
  await change(run);
  await deps.accounts.reload();
  log.info("admin: {action} {user}", { action, user: name });
  return one(deps, name);
}

/** `DELETE /api/users/NAME`: removes the user; their connections close. */
export async function removeUser(deps: ApiDeps, name: string): Promise<void> {
  await change(() => deps.store.remove(name));
  await deps.accounts.reload();
  log.info("admin: removed user {user}", { user: name });
}

/** `GET /api/users/NAME`. */
export function getUser(deps: ApiDeps, name: string): UserView {
  return one(deps, name);
}

/** `POST /api/connections/ID/disconnect`: closes one open connection. */
export function disconnect(deps: ApiDeps, id: number): { user: string } {
  for (const account of deps.accounts.list()) {
    for (const session of account.sessions) {
      if (session instanceof TunnelSession && session.id === id) {
        session.abort();
        log.info("admin: disconnected {user}'s connection from {client} to {destination}", {
          user: account.user.name,
          client: session.client,
          destination: session.destination,
        });
        return { user: account.user.name };
      }
    }
  }
  throw new ApiError(404, `no open connection ${id}`);
}

/** The chart ranges: 24 hours by the minute, 90 days by the day. */
const RANGES: Record<string, UsageResolution> = { "24h": "minute", "90d": "day" };

/** `GET /api/history?user=NAME&range=24h|90d` (no user: the whole server). */
export async function history(
  deps: ApiDeps,
  params: URLSearchParams,
): Promise<{ range: string; resolution: UsageResolution; points: unknown[] }> {
  const range = params.get("range") ?? "24h";
  const resolution = Object.hasOwn(RANGES, range) ? RANGES[range] : undefined;
  if (!resolution) throw new ApiError(400, `range: expected 24h or 90d, got "${range}"`);
  const name = params.get("user");
  let id = SERVER_HISTORY_ID;
  if (name) {
    const account = deps.accounts.byName(name);
    if (!account) throw new ApiError(404, `no user named "${name}"`);
    id = account.user.id;
  }
  const since = Date.now() - HISTORY_RETENTION_MS[resolution];
  return { range, resolution, points: await deps.store.usageHistory(id, resolution, since) };
}

/** `GET /api/audit?user=NAME&since=7d`: the audit log, newest first (at most 500 entries). */
export async function auditEntries(
  deps: ApiDeps,
  params: URLSearchParams,
): Promise<AuditEntry[]> {
  const since = params.get("since");
  const who = params.get("user");
  return await deps.store.auditLog({
    ...(who ? { who } : {}),
    ...(since ? { since: refusedAs400(() => parseSince(since)) } : {}),
    limit: 500,
  });
}

/** The most users one bulk request may name. */
const BULK_MAX = 10_000;

/**
 * `POST /api/users-bulk` `{names, action, limits?}`: enables, disables, deletes, or sets the
 * `limits` of every user named, one store call each (so each is checked as alone); answers how
 * many were changed and the refusals by name.
 *
 * @throws {ApiError} 400 for a malformed request or bad limits, before anything is changed
 */
export async function bulkUsers(
  deps: ApiDeps,
  body: Record<string, unknown>,
): Promise<{ changed: number; failed: Record<string, string> }> {
  const names = body.names;
  if (!Array.isArray(names) || names.length === 0 || names.length > BULK_MAX) {
    throw new ApiError(400, `names: expected a list of 1 to ${BULK_MAX} user names`);
  }
  const checked = names.map((n) => refusedAs400(() => nameFromJson(n)));
  const action = String(body.action);
  const limits = action === "set" && typeof body.limits === "object" && body.limits !== null
    ? limitsOf(body.limits as Record<string, unknown>)
    : undefined;
  const runs: Record<string, (name: string) => Promise<unknown>> = {
    enable: (name) => deps.store.setEnabled(name, true),
    disable: (name) => deps.store.setEnabled(name, false),
    delete: (name) => deps.store.remove(name),
    set: (name) => deps.store.setLimits(name, limits!),
  };
  const run = Object.hasOwn(runs, action) ? runs[action] : undefined;
  if (!run) throw new ApiError(400, "action: expected enable, disable, delete or set");
  if (action === "set" && (!limits || Object.keys(limits).length === 0)) {
    throw new ApiError(400, "limits: nothing to change");
  }
  const failed: Record<string, string> = {};
  let changed = 0;
  for (const name of new Set(checked)) {
    try {
      await change(() => run(name));
      changed++;
    } catch (error) {
      if (!(error instanceof ApiError)) throw error;
      failed[name] = error.message;
    }
  }
  await deps.accounts.reload();
  log.info("admin: {action} {count} user(s)", { action, count: changed });
  return { changed, failed };
}

/** `GET /api/users/NAME/addresses`: where the user was seen from, and when last, newest first. */
export async function addressesOf(
  deps: ApiDeps,
  name: string,
): Promise<{ address: string; lastSeen: number; open: boolean }[]> {
  const account = deps.accounts.byName(name);
  if (!account) throw new ApiError(404, `no user named "${name}"`);
  const open = account.places();
  const seen = (await deps.store.sources()).get(account.user.id) ?? [];
  const views = seen.map((s) => ({ address: s.source, lastSeen: s.at, open: open.has(s.source) }));
  for (const address of open) {
    if (!views.some((v) => v.address === address)) {
      views.unshift({ address, lastSeen: Date.now(), open: true });
    }
  }
  return views;
}
