/**
 * The usage history behind the panel's charts: every user's bytes (and the server's, as user
 * id 0) added up from the sampler and written to the store's minute and day buckets every
 * few seconds, one transaction each time.
 */
import { logger } from "../../common/ops/logging.ts";
import type { UserStore } from "../store/user_store.ts";
import type { Clock, UsageSampler, UserDelta } from "./usage_sampler.ts";

const log = logger("remote", "history");

/** The server's own row of the history. */
export const SERVER_HISTORY_ID = 0;

/**
 * Records the history from `sampler` into `store` every `writeEveryMs` (5 s).
 *
 * @example const history = new UsageHistory(store, sampler); await history.stop();
 */
export class UsageHistory {
  readonly #store: UserStore;
  readonly #clock: Clock;
  readonly #unsubscribe: () => void;
  readonly #timer: ReturnType<typeof setInterval> | undefined;
  /** Bytes not written yet, by user id. */
  #pending = new Map<number, { up: number; down: number }>();
  #writing: Promise<void> = Promise.resolve();

  constructor(
    store: UserStore,
    sampler: UsageSampler,
    options: { writeEveryMs?: number; clock?: Clock } = {},
  ) {
    this.#store = store;
    this.#clock = options.clock ?? Date.now;
    this.#unsubscribe = sampler.subscribe((deltas) => this.#add(deltas));
    const every = options.writeEveryMs ?? 5_000;
    if (every > 0) this.#timer = setInterval(() => this.write(), every);
  }

  #add(deltas: UserDelta[]): void {
    for (const { account, up, down } of deltas) {
      if (up <= 0 && down <= 0) continue;
      for (const id of [account.user.id, SERVER_HISTORY_ID]) {
        const entry = this.#pending.get(id) ?? { up: 0, down: 0 };
        entry.up += Math.max(0, up);
        entry.down += Math.max(0, down);
        this.#pending.set(id, entry);
      }
    }
  }

  /** Writes what was counted since the last write; a failing store keeps it for next time. */
  write(): Promise<void> {
    this.#writing = this.#writing.then(async () => {
      if (this.#pending.size === 0) return;
      const pending = this.#pending;
      this.#pending = new Map();
      const samples = [...pending].map(([userId, { up, down }]) => ({ userId, up, down }));
      try {
        await this.#store.addUsageHistory(samples, this.#clock());
      } catch (error) {
        log.warn("could not write the usage history, keeping it for next time: {error}", {
          error,
        });
        for (const [id, entry] of pending) {
          const now = this.#pending.get(id) ?? { up: 0, down: 0 };
          this.#pending.set(id, { up: now.up + entry.up, down: now.down + entry.down });
        }
      }
    });
    return this.#writing;
  }

  /** Stops recording, after writing what is left. */
  async stop(): Promise<void> {
    clearInterval(this.#timer);
    this.#unsubscribe();
    await this.write();
  }
}
