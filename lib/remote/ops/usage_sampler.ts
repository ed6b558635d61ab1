/**
 * Reads the accounts' byte counters once a second and hands each user's bytes since the last
 * read to its subscribers: the admin panel's live rates and the usage history. It reads what
 * the relay already counts; nothing in the data path knows it is there.
 */
import type { Account, Accounts } from "../users/accounts.ts";

/** One user's bytes over one sampling interval. */
export interface UserDelta {
  account: Account;
  up: number;
  down: number;
}

/** What a subscriber is told each interval: every user's bytes and the interval's length. */
export type SampleObserver = (deltas: UserDelta[], elapsedMs: number, now: number) => void;

/** A clock the tests can move: Unix milliseconds. */
export type Clock = () => number;

/**
 * Samples `accounts` every `intervalMs` (call {@linkcode sample} yourself with `intervalMs` 0).
 *
 * @example
 * const sampler = new UsageSampler(server.accounts);
 * sampler.subscribe((deltas, ms) => console.log(deltas.length, ms));
 */
export class UsageSampler {
  readonly #accounts: Accounts;
  readonly #clock: Clock;
  readonly #last = new WeakMap<Account, { up: number; down: number }>();
  readonly #observers = new Set<SampleObserver>();
  readonly #timer: ReturnType<typeof setInterval> | undefined;
  #lastAt: number;

  constructor(accounts: Accounts, options: { intervalMs?: number; clock?: Clock } = {}) {
    this.#accounts = accounts;
    this.#clock = options.clock ?? Date.now;
    this.#lastAt = this.#clock();
    const intervalMs = options.intervalMs ?? 1000;
    if (intervalMs > 0) this.#timer = setInterval(() => this.sample(), intervalMs);
  }

  /** Adds a subscriber; the returned function removes it. */
  subscribe(observer: SampleObserver): () => void {
    this.#observers.add(observer);
    return () => this.#observers.delete(observer);
  }

  /** Reads the counters now and tells the subscribers (one that throws does not stop others). */
  sample(): void {
    const now = this.#clock();
    const elapsed = Math.max(1, now - this.#lastAt);
    this.#lastAt = now;
    const deltas: UserDelta[] = [];
    for (const account of this.#accounts.list()) {
      const last = this.#last.get(account) ?? { up: 0, down: 0 };
      deltas.push({ account, up: account.sentUp - last.up, down: account.sentDown - last.down });
      this.#last.set(account, { up: account.sentUp, down: account.sentDown });
    }
    for (const observer of this.#observers) {
      try {
        observer(deltas, elapsed, now);
      } catch {
        // A subscriber's failure is its own.
      }
    }
  }

  /** Stops the timer. */
  stop(): void {
    clearInterval(this.#timer);
  }
}
