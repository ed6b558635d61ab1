/**
 * Alerts for the admin: a user past 80% and 100% of the quota, 3 days before expiry and at
 * it. Each is sent once per period (the quota's period starts at the last reset; the expiry's
 * is the expiry date), as recorded in the store, so a restart or a second node sends nothing
 * twice. Each goes to the log and, as JSON, to `--notify-url`, retried with backoff in the
 * background: the data path never waits for it.
 */
import { logger } from "../../common/ops/logging.ts";
import { formatBytes } from "../../common/ops/units.ts";
import type { Account, Accounts } from "../users/accounts.ts";
import type { UserStore } from "../store/user_store.ts";
import type { Clock } from "./usage_sampler.ts";

const log = logger("remote", "alerts");

/** How long before the expiry the first warning goes out. */
export const EXPIRY_WARNING_MS = 3 * 86_400_000;

/** The kinds of alert. */
export type AlertKind = "quota_80" | "quota_100" | "expires_soon" | "expired";

/** The JSON body posted to the webhook. */
export interface AlertMessage {
  alert: AlertKind;
  user: string;
  /** A sentence for people (chat webhooks show it). */
  text: string;
  usedBytes: number;
  quotaBytes: number;
  /** ISO time, or null for never. */
  expiresAt: string | null;
  /** ISO time the alert was raised. */
  at: string;
}

/** Options of {@linkcode Alerts}. */
export interface AlertOptions {
  /** Where alerts are posted; without one they are only logged. */
  url?: string;
  intervalMs?: number;
  clock?: Clock;
  /** Attempts per alert (default 6) and the first retry's delay, doubling each time (1 s). */
  attempts?: number;
  retryMs?: number;
  /** Most alerts waiting for delivery; past it the oldest are dropped (logged). */
  maxQueued?: number;
}

/** The alerts of `account` due at `now`: kind and the period it is about. */
export function dueAlerts(account: Account, now: number): { kind: AlertKind; period: string }[] {
  const u = account.user;
  const due: { kind: AlertKind; period: string }[] = [];
  if (u.quota > 0) {
    const period = `${u.quota}@${u.lastResetAt ?? u.createdAt}`;
    const used = account.used;
    if (used >= u.quota * 0.8) due.push({ kind: "quota_80", period });
    if (used >= u.quota) due.push({ kind: "quota_100", period });
  }
  if (u.expiresAt !== null) {
    const period = String(u.expiresAt);
    if (now >= u.expiresAt - EXPIRY_WARNING_MS) due.push({ kind: "expires_soon", period });
    if (now >= u.expiresAt) due.push({ kind: "expired", period });
  }
  return due;
}

function describe(kind: AlertKind, account: Account): string {
  const u = account.user;
  const usage = `${formatBytes(account.used)} of ${formatBytes(u.quota)}`;
  const expiry = u.expiresAt === null ? "" : new Date(u.expiresAt).toISOString();
  switch (kind) {
    case "quota_80":
      return `${u.name} has used 80% of their quota (${usage})`;
    case "quota_100":
      return `${u.name} has used all of their quota (${usage}); they are refused until a reset`;
    case "expires_soon":
      return `${u.name}'s account expires on ${expiry}`;
    case "expired":
      return `${u.name}'s account expired on ${expiry}`;
  }
}

/**
 * Watches the accounts every `intervalMs` (a second) and raises each due alert once.
 *
 * @example const alerts = new Alerts(store, server.accounts, { url }); await alerts.stop();
 */
export class Alerts {
  readonly #store: UserStore;
  readonly #accounts: Accounts;
  readonly #options: Required<Omit<AlertOptions, "url" | "clock">> & { url?: string };
  readonly #clock: Clock;
  readonly #timer: ReturnType<typeof setInterval> | undefined;
  /** Alerts known to be sent already (user id, kind, period), so the store is asked once. */
  readonly #known = new Set<string>();
  readonly #queue: AlertMessage[] = [];
  #delivering: Promise<void> | null = null;
  #checking: Promise<void> | null = null;
  #stopped = false;
  readonly #stop = new AbortController();

  constructor(store: UserStore, accounts: Accounts, options: AlertOptions = {}) {
    this.#store = store;
    this.#accounts = accounts;
    this.#clock = options.clock ?? Date.now;
    this.#options = {
      url: options.url,
      intervalMs: options.intervalMs ?? 1000,
      attempts: options.attempts ?? 6,
      retryMs: options.retryMs ?? 1000,
      maxQueued: options.maxQueued ?? 1000,
    };
    if (this.#options.intervalMs > 0) {
      this.#timer = setInterval(() => this.check(), this.#options.intervalMs);
    }
  }

  /** Raises the alerts due now (the timer calls it; tests may too). */
  check(): Promise<void> {
    this.#checking ??= this.#check().finally(() => this.#checking = null);
    return this.#checking;
  }

  async #check(): Promise<void> {
    const now = this.#clock();
    for (const account of this.#accounts.list()) {
      for (const { kind, period } of dueAlerts(account, now)) {
        const key = `${account.user.id}/${kind}/${period}`;
        if (this.#known.has(key)) continue;
        try {
          const first = await this.#store.markAlert(account.user.id, kind, period);
          this.#known.add(key);
          if (first) this.#raise(kind, account, now);
        } catch (error) {
          log.warn("could not record an alert, trying again shortly: {error}", { error });
        }
      }
    }
  }

  #raise(kind: AlertKind, account: Account, now: number): void {
    const u = account.user;
    const message: AlertMessage = {
      alert: kind,
      user: u.name,
      text: describe(kind, account),
      usedBytes: account.used,
      quotaBytes: u.quota,
      expiresAt: u.expiresAt === null ? null : new Date(u.expiresAt).toISOString(),
      at: new Date(now).toISOString(),
    };
    log.warning("alert {alert}: {text}", { alert: kind, text: message.text });
    if (!this.#options.url || this.#stopped) return;
    if (this.#queue.length >= this.#options.maxQueued) {
      const dropped = this.#queue.shift()!;
      log.warn("too many alerts waiting for the webhook; dropped {alert} of {user}", {
        alert: dropped.alert,
        user: dropped.user,
      });
    }
    this.#queue.push(message);
    this.#delivering ??= this.#deliverAll().finally(() => this.#delivering = null);
  }

  async #deliverAll(): Promise<void> {
    while (this.#queue.length > 0 && !this.#stopped) await this.#deliver(this.#queue.shift()!);
  }

  /** Posts one alert, retrying with doubling delays; the URL (it may hold a secret) is never logged. */
  async #deliver(message: AlertMessage): Promise<void> {
    let wait = this.#options.retryMs;
    for (let attempt = 1; attempt <= this.#options.attempts; attempt++) {
      let why: string;
      try {
        const response = await fetch(this.#options.url!, {
          method: "POST",
          headers: { "content-type": "application/json", "user-agent": "swiftproxy-remote" },
          body: JSON.stringify(message),
          signal: AbortSignal.any([this.#stop.signal, AbortSignal.timeout(10_000)]),
        });
        await response.body?.cancel();
        if (response.ok) return;
        why = `HTTP ${response.status}`;
      } catch (error) {
        if (this.#stopped) return;
        why = (error as Error).message;
      }
      if (attempt === this.#options.attempts) {
        log.warn(
          "the webhook refused alert {alert} of {user} {attempts} times ({why}); giving up",
          {
            alert: message.alert,
            user: message.user,
            attempts: attempt,
            why,
          },
        );
        return;
      }
      log.info("the webhook failed for alert {alert} of {user} ({why}); retrying in {s} s", {
        alert: message.alert,
        user: message.user,
        why,
        s: wait / 1000,
      });
      await new Promise((resolve) => {
        const timer = setTimeout(resolve, wait);
        this.#stop.signal.addEventListener("abort", () => {
          clearTimeout(timer);
          resolve(undefined);
        });
      });
      if (this.#stopped) return;
      wait *= 2;
    }
  }

  /** Alerts waiting to be delivered (for the tests and the panel). */
  get queued(): number {
    return this.#queue.length + (this.#delivering ? 1 : 0);
  }

  /** Stops checking and gives up on deliveries in progress. */
  async stop(): Promise<void> {
    clearInterval(this.#timer);
    await this.#checking;
    this.#stopped = true;
    this.#stop.abort();
    await this.#delivering;
  }
}
