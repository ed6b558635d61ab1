/**
 * Usage on its way to the store, delivered exactly once. Counted bytes are sealed into
 * batches numbered per node; a batch once sent is never changed, only sent again until the
 * store confirms it, so a retry after a lost commit reply is recognised by its number and
 * counted once. While the store is unreachable the batches (and so the usage) are also kept
 * in a small spool file, so a restart does not lose them.
 */
import { dirname } from "node:path";
import type { UsageBatch, UsageDelta, UserStore } from "./user_store.ts";
import type { StoreHealth } from "./users_cache.ts";

/** A sealed batch of usage with its node and number. */
export interface SpooledBatch extends UsageBatch {
  deltas: UsageDelta[];
}

/** A batch the store confirmed; `restored` when it came from a previous run's spool. */
export interface DeliveredBatch {
  deltas: UsageDelta[];
  restored: boolean;
}

/** How a {@linkcode UsageOutbox} numbers, keeps and reports. */
export interface OutboxOptions {
  /** The node writing; without one, batches carry no number (a single-node store). */
  node?: string;
  /** Where batches wait while the store is down (JSON, mode 0600). */
  spoolPath?: string;
  /** Told whether the store answered. */
  health?: StoreHealth;
}

interface Entry {
  batch: SpooledBatch;
  restored: boolean;
}

/**
 * Usage waiting to be written: `add` merges deltas into the open batch, `deliver` sends the
 * batches in order.
 *
 * @example
 * const outbox = new UsageOutbox(store, { node: "eu-1", spoolPath: "data/usage-spool.json" });
 * outbox.add([{ id: 1, up: 10, down: 20, openConns: 1 }]);
 * await outbox.deliver();
 */
export class UsageOutbox {
  readonly #store: UserStore;
  readonly #options: OutboxOptions;
  /** Batches sent at least once (so fixed), oldest first. */
  #sent: Entry[] = [];
  /** The batch still open to new usage: never sent. */
  #open: SpooledBatch | undefined;
  #seq: number;
  #spooled = false;

  /**
   * Restores the spool of a previous run, if there is one.
   *
   * @throws {SyntaxError} when the spool file is not one this program wrote
   */
  constructor(store: UserStore, options: OutboxOptions = {}) {
    this.#store = store;
    this.#options = options;
    // Numbers grow across restarts without reading the store: microseconds since 1970 at start.
    this.#seq = Date.now() * 1000;
    const spool = options.spoolPath && readSpool(options.spoolPath);
    if (spool) {
      this.#sent = spool.map((batch) => ({ batch, restored: true }));
      this.#seq = Math.max(this.#seq, ...spool.map((b) => b.seq));
      this.#spooled = true;
    }
  }

  /** Batches not yet confirmed (sent or not). */
  get pending(): number {
    return this.#sent.length + (this.#open ? 1 : 0);
  }

  /** Adds usage to the open batch (bytes summed per user, open connections the latest). */
  add(deltas: UsageDelta[]): void {
    if (deltas.length === 0) return;
    this.#open ??= { node: this.#options.node ?? "", seq: ++this.#seq, deltas: [] };
    const byId = new Map(this.#open.deltas.map((d) => [d.id, d]));
    for (const d of deltas) {
      const known = byId.get(d.id);
      if (known) {
        known.up += d.up;
        known.down += d.down;
        known.openConns = d.openConns;
      } else {
        const copy = { ...d };
        this.#open.deltas.push(copy);
        byId.set(d.id, copy);
      }
    }
  }

  /**
   * Sends every batch in order and returns those the store confirmed. A failure keeps the
   * rest (written to the spool) for the next call; it is reported to the health, not thrown.
   */
  async deliver(): Promise<DeliveredBatch[]> {
    if (this.#open) {
      this.#sent.push({ batch: this.#open, restored: false });
      this.#open = undefined;
    }
    const delivered: DeliveredBatch[] = [];
    while (this.#sent.length > 0) {
      const { batch, restored } = this.#sent[0];
      try {
        await this.#store.addUsage(batch.deltas, this.#options.node ? batch : undefined);
      } catch (error) {
        this.#options.health?.down(error);
        this.#writeSpool();
        return delivered;
      }
      this.#options.health?.up();
      this.#sent.shift();
      delivered.push({ deltas: batch.deltas, restored });
    }
    if (this.#spooled) this.#removeSpool();
    return delivered;
  }

  #writeSpool(): void {
    const path = this.#options.spoolPath;
    if (!path) return;
    const batches = [...this.#sent.map((e) => e.batch), ...(this.#open ? [this.#open] : [])];
    const temp = `${path}.tmp`;
    try {
      Deno.mkdirSync(dirname(path), { recursive: true, mode: 0o700 });
      Deno.writeTextFileSync(temp, JSON.stringify({ spool: 1, batches }), { mode: 0o600 });
      Deno.renameSync(temp, path);
      this.#spooled = true;
    } catch {
      // A full or read-only disk: the usage is still kept in memory.
    }
  }

  #removeSpool(): void {
    try {
      Deno.removeSync(this.#options.spoolPath!);
    } catch {
      // gone already
    }
    this.#spooled = false;
  }
}

/** The batches in a spool file, or undefined when there is none. */
export function readSpool(path: string): SpooledBatch[] | undefined {
  let text: string;
  try {
    text = Deno.readTextFileSync(path);
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) return undefined;
    throw error;
  }
  const parsed = JSON.parse(text);
  if (parsed?.spool !== 1 || !Array.isArray(parsed.batches)) {
    throw new SyntaxError(`expected a usage spool in ${path}, got something else`);
  }
  return parsed.batches as SpooledBatch[];
}
