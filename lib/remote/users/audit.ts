/**
 * The audit log's writer: {@linkcode audited} wraps a store so that every change made through
 * it (a user added, changed or removed, an admin or a token added or removed) is recorded with
 * who made it, from where, and the fields before → after. What it records is chosen field by
 * field from what `user list --json` shows, so passwords, keys, tokens, TOTP secrets, recovery
 * codes and links never reach it.
 */
import { logger } from "../../common/ops/logging.ts";
import type { User, UserStore } from "../store/user_store.ts";
import type { AdminChange, TokenRecord } from "../store/admin_store.ts";
import { userJson } from "./user_view.ts";

const log = logger("remote", "audit");

/** Who makes changes: an admin's name, `token:NAME` or `cli`, and from which address. */
export interface Actor {
  who: string;
  source: string;
}

/** The command line's actor. */
export const CLI_ACTOR: Actor = Object.freeze({ who: "cli", source: "local" });

/** Fields that move by themselves (traffic, times): not part of a change. */
const MOVING = new Set(["bytesUp", "bytesDown", "openConns", "createdAt", "updatedAt"]);

/** What the audit log keeps of a user: its settings as `user list --json` shows them. */
export function userFacts(user: User | undefined): Record<string, unknown> | undefined {
  if (!user) return undefined;
  return Object.fromEntries(Object.entries(userJson(user)).filter(([k]) => !MOVING.has(k)));
}

/** The fields that differ between `before` and `after`, each side as JSON text (or null). */
export function difference(
  before: Record<string, unknown> | undefined,
  after: Record<string, unknown> | undefined,
): { before: string | null; after: string | null } {
  const keys = new Set([...Object.keys(before ?? {}), ...Object.keys(after ?? {})]);
  const changed = [...keys].filter((k) =>
    JSON.stringify(before?.[k]) !== JSON.stringify(after?.[k])
  );
  const pick = (side: Record<string, unknown> | undefined) =>
    side ? JSON.stringify(Object.fromEntries(changed.map((k) => [k, side[k] ?? null]))) : null;
  return { before: pick(before), after: pick(after) };
}

/**
 * Records one change; a failure to record is logged, not thrown (the change is made).
 *
 * @example await record(store, CLI_ACTOR, "user.disconnect", "alice");
 */
export async function record(
  store: UserStore,
  actor: Actor,
  action: string,
  target: string,
  before?: Record<string, unknown>,
  after?: Record<string, unknown>,
): Promise<void> {
  try {
    await store.addAudit({
      at: Date.now(),
      actor: actor.who,
      source: actor.source,
      action,
      target,
      ...difference(before, after),
    });
  } catch (error) {
    log.error("could not write the audit entry for {action} {target}: {error}", {
      action,
      target,
      error,
    });
  }
}

/** How one method of the store is recorded: its action and target, and what to compare. */
interface Recipe {
  action: (args: unknown[]) => string;
  target: (args: unknown[]) => string;
  /** Read before and after the call (a user's settings); absent: only `after` below. */
  facts?: (store: UserStore, args: unknown[]) => Promise<Record<string, unknown> | undefined>;
  /** What the call set, when there is nothing to read (never a secret). */
  after?: (args: unknown[]) => Record<string, unknown>;
}

const byName = (args: unknown[]) => String(args[0]);
const user = (action: string): Recipe => ({
  action: () => action,
  target: byName,
  facts: async (store, args) => userFacts(await store.get(String(args[0]))),
});

const RECIPES: Record<string, Recipe> = {
  add: user("user.add"),
  setLimits: user("user.set"),
  setPassword: { action: () => "user.passwd", target: byName },
  setEnabled: user("user.enable"),
  remove: user("user.remove"),
  resetUsage: {
    action: () => "user.reset-usage",
    target: byName,
    facts: async (store, args) => {
      const u = await store.get(String(args[0]));
      return u && { bytesUp: u.bytesUp, bytesDown: u.bytesDown };
    },
  },
  setSubscription: {
    action: (args) => args[1] === null ? "user.subscription-revoke" : "user.subscription",
    target: byName,
  },
  setAdminPasswordHash: { action: () => "admin.passwd", target: () => "admin" },
  putAdmin: {
    action: (args) => {
      const change = args[1] as AdminChange;
      if (change.hash !== undefined) return "admin.passwd";
      if (change.totpSecret !== undefined) {
        return change.totpSecret === null ? "admin.2fa-off" : "admin.2fa-on";
      }
      return "admin.recovery-codes";
    },
    target: byName,
    facts: async (store, args) => {
      const admin = (await store.admins()).find((a) => a.name === String(args[0]));
      return admin &&
        { twoFactor: admin.totpSecret !== null, recoveryCodesLeft: admin.recovery.length };
    },
  },
  removeAdmin: { action: () => "admin.remove", target: byName },
  unlockAdmin: { action: () => "admin.unlock", target: () => "*" },
  useRecoveryCode: { action: () => "admin.recovery-code-used", target: byName },
  addToken: {
    action: () => "token.add",
    target: (args) => (args[0] as TokenRecord).name,
    after: (args) => ({ readOnly: (args[0] as TokenRecord).readOnly }),
  },
  revokeToken: { action: () => "token.revoke", target: byName },
};

/** Calls whose answer says nothing happened (false): nothing to record. */
const MAYBE = new Set(["removeAdmin", "revokeToken", "useRecoveryCode", "unlockAdmin"]);

/**
 * `store`, with every change made through it recorded as `actor`'s. A `putAdmin` that creates
 * an admin is recorded as `admin.add`.
 *
 * @example await audited(store, CLI_ACTOR).setLimits("alice", { quota: 1e9 });
 */
export function audited(store: UserStore, actor: Actor): UserStore {
  return new Proxy(store, {
    get(target, property, receiver) {
      const value = Reflect.get(target, property, receiver);
      if (typeof value !== "function") return value;
      const recipe = typeof property === "string" && Object.hasOwn(RECIPES, property)
        ? RECIPES[property]
        : undefined;
      if (!recipe) return value.bind(target);
      return async (...args: unknown[]) => {
        const before = await recipe.facts?.(target, args);
        const result = await value.apply(target, args);
        if (MAYBE.has(property as string) && result === false) return result;
        const after = recipe.facts ? await recipe.facts(target, args) : recipe.after?.(args);
        let action = recipe.action(args);
        if (property === "putAdmin" && before === undefined) action = "admin.add";
        if (property === "setEnabled") action = args[1] ? "user.enable" : "user.disable";
        await record(target, actor, action, recipe.target(args), before, after);
        return result;
      };
    },
  });
}

/**
 * `--since`: `30m`, `12h`, `7d`, `2w` ago, or a date or time (`2026-05-01`).
 *
 * @throws {RangeError} naming what was expected
 */
export function parseSince(text: string, now = Date.now()): number {
  const ago = /^(\d+)([mhdw])$/.exec(text);
  if (ago) {
    const unit = { m: 60_000, h: 3600_000, d: 86_400_000, w: 7 * 86_400_000 }[ago[2] as "m"];
    return now - Number(ago[1]) * unit;
  }
  const at = /^\d{4}-\d{2}-\d{2}/.test(text) ? Date.parse(text) : NaN;
  if (!Number.isFinite(at)) {
    throw new RangeError(`expected 30m, 12h, 7d, 2w or a date such as 2026-05-01, got "${text}"`);
  }
  return at;
}
