/**
 * Usage on its way to the store, delivered exactly once. Counted bytes are sealed into
 * batches numbered per node; a batch once sent is never changed, only sent again until the
 * store confirms it, so a retry after a lost commit reply is recognised by its number and
 * counted once. Numbers continue from the last one the store applied for the node (read
 * before the first batch is sent), never from the clock, so a clock that went back cannot
 * make new usage look old. While the store is unreachable the batches (and so the usage) are
 * also kept in a small spool file, written atomically, so a restart does not lose them.
 */
import { dirname, join } from "node:path";
import { logger } from "../../common/ops/logging.ts";
import { UsageRefusedError } from "./user_store.ts";
import type { UsageBatch, UsageDelta, UserStore } from "./user_store.ts";
import type { StoreHealth } from "./users_cache.ts";

const log = logger("remote", "store");

/** A sealed batch of usage with its node and number. */
export interface SpooledBatch extends UsageBatch {
  deltas: UsageDelta[];
  /**
   * In a spool file: whether the batch was handed to the store (so its number is fixed).
   * False only for a batch numbered before the store's last number was known; absent: true.
   */
  sent?: boolean;
}

/**
 * A batch the outbox is done with: confirmed by the store, or refused for its content and set
 * aside (so not counted). `restored` when it came from a previous run's spool.
 */
export interface DeliveredBatch {
  deltas: UsageDelta[];
  restored: boolean;
}

/** How a {@linkcode UsageOutbox} numbers, keeps and reports. */
export interface OutboxOptions {
  /** The node writing; without one, batches carry no number (a single-node store). */
  node?: string;
  /** Where batches wait while the store is down (JSON lines, mode 0600). */
  spoolPath?: string;
  /** Told whether the store answered. */
  health?: StoreHealth;
}

interface Entry {
  batch: SpooledBatch;
  restored: boolean;
  /** Handed to the store at least once (a previous run's too): its number is fixed. */
  tried: boolean;
}

/** Most times one delivery numbers its batches again after the store refused a new one. */
const RENUMBER_TRIES = 3;

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
  /** Batches sealed (so fixed but for a number not yet tried), oldest first. */
  #sent: Entry[] = [];
  /** The batch still open to new usage: never sent. */
  #open: SpooledBatch | undefined;
  #seq = 0;
  /** Whether the numbers follow the store's last applied one (read once per run). */
  #synced: boolean;
  #spooled = false;

  /**
   * Restores the spool of a previous run, if there is one. A damaged spool (cut short, not
   * one this program wrote) is moved aside with a warning; the batches that could be read are
   * kept.
   */
  constructor(store: UserStore, options: OutboxOptions = {}) {
    this.#store = store;
    this.#options = options;
    this.#synced = !options.node;
    const path = options.spoolPath;
    const spool = path ? readSpool(path) : undefined;
    if (!path || !spool) return;
    this.#sent = spool.batches.map(({ sent, ...batch }) => ({
      batch,
      restored: true,
      tried: sent !== false,
    }));
    this.#seq = Math.max(0, ...spool.batches.map((b) => b.seq));
    this.#spooled = true;
    if (spool.damaged === undefined) return;
    const aside = `${path}.damaged-${Date.now()}`;
    let moved = true;
    try {
      Deno.renameSync(path, aside);
    } catch {
      moved = false;
    }
    log.warn(
      "the usage spool {path} is damaged ({problem}): kept the {kept} batches that could be " +
        "read; {what}",
      {
        path,
        problem: spool.damaged,
        kept: spool.batches.length,
        what: moved ? `the file is now ${aside}` : "it could not be moved aside",
      },
    );
    this.#spooled = false;
    if (this.#sent.length > 0) this.#writeSpool();
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
   * Sends every batch in order and returns those the store is done with. A failure keeps the
   * rest (written to the spool) for the next call; it is reported to the health, not thrown.
   * A batch the store refuses for its content is set aside with an error line, and the rest
   * go on.
   */
  async deliver(): Promise<DeliveredBatch[]> {
    if (this.#open) {
      this.#sent.push({ batch: this.#open, restored: false, tried: false });
      this.#open = undefined;
    }
    const delivered: DeliveredBatch[] = [];
    let renumbered = 0;
    while (this.#sent.length > 0) {
      const entry = this.#sent[0]!;
      const { batch, restored } = entry;
      const first = !entry.tried;
      let applied: boolean;
      try {
        if (!this.#synced) await this.#sync();
        entry.tried = true;
        applied = await this.#store.addUsage(batch.deltas, this.#options.node ? batch : undefined);
      } catch (error) {
        if (!(error instanceof UsageRefusedError)) {
          this.#options.health?.down(error);
          this.#writeSpool();
          return delivered;
        }
        this.#options.health?.up();
        this.#setAside(batch, error);
        applied = true;
      }
      this.#options.health?.up();
      if (applied === false && first && renumbered++ < RENUMBER_TRIES) {
        // An answer, so certainly not applied: the store holds a later number for this node
        // (another process with the same --node). Numbered again after it, nothing is lost.
        log.warn(
          "usage batch {seq} of node {node} was refused: the database already holds a later " +
            "batch of this node (is another process running with the same --node?); numbering " +
            "again after it",
          { seq: batch.seq, node: batch.node },
        );
        entry.tried = false;
        this.#synced = false;
        continue;
      }
      if (applied === false) {
        log.info(
          "usage batch {seq} of node {node} was not applied: the database holds it (or a later " +
            "one) already, as after a lost commit reply",
          { seq: batch.seq, node: batch.node },
        );
      }
      this.#sent.shift();
      delivered.push({ deltas: batch.deltas, restored });
    }
    if (this.#spooled) this.#removeSpool();
    return delivered;
  }

  /** Numbers the batches never tried after the store's last applied one (and after any tried). */
  async #sync(): Promise<void> {
    let next = await this.#store.lastUsageBatch(this.#options.node!);
    for (const entry of this.#sent) {
      if (entry.tried) next = Math.max(next, entry.batch.seq);
      else entry.batch.seq = ++next;
    }
    if (this.#open) this.#open.seq = ++next;
    this.#seq = next;
    this.#synced = true;
  }

  /** Records a refused batch beside the spool (or in the log without one): never retried. */
  #setAside(batch: SpooledBatch, error: Error): void {
    const path = this.#options.spoolPath;
    const file = path ? join(dirname(path), "usage-refused.jsonl") : undefined;
    const line = JSON.stringify({ at: new Date().toISOString(), error: error.message, batch });
    let kept = false;
    if (file) {
      try {
        Deno.writeTextFileSync(file, line + "\n", { append: true, mode: 0o600 });
        kept = true;
      } catch {
        // the log line below then carries the batch
      }
    }
    log.error(
      "the database refused usage batch {seq} of node {node} for its content ({error}); it is " +
        "not counted and later batches go on: {where}",
      {
        seq: batch.seq,
        node: batch.node || "-",
        error: error.message,
        where: kept ? `set aside in ${file}` : line,
      },
    );
  }

  /** Writes the waiting batches to the spool: a temporary file synced, then renamed over it. */
  #writeSpool(): void {
    const path = this.#options.spoolPath;
    if (!path) return;
    const batches = [
      ...this.#sent.map((e) => ({ ...e.batch, sent: e.tried })),
      ...(this.#open ? [{ ...this.#open, sent: false }] : []),
    ];
    const temp = `${path}.tmp`;
    try {
      Deno.mkdirSync(dirname(path), { recursive: true, mode: 0o700 });
      using file = Deno.openSync(temp, { write: true, create: true, truncate: true, mode: 0o600 });
      const bytes = new TextEncoder().encode(formatSpool(batches));
      for (let done = 0; done < bytes.length;) done += file.writeSync(bytes.subarray(done));
      file.syncSync();
      Deno.renameSync(temp, path);
      syncDirectory(dirname(path));
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

/** Makes a rename in `dir` durable (a power loss after it keeps the new file). */
function syncDirectory(dir: string): void {
  try {
    using handle = Deno.openSync(dir, { read: true });
    handle.syncSync();
  } catch {
    // not every system lets a directory be synced; the rename itself is atomic
  }
}

/** The first line of a spool file; then one batch per line, so a cut-short file keeps most. */
const SPOOL_HEAD = JSON.stringify({ spool: 2 });

/** A spool file's text for `batches`. */
export function formatSpool(batches: SpooledBatch[]): string {
  return [SPOOL_HEAD, ...batches.map((b) => JSON.stringify(b))].join("\n") + "\n";
}

/** What a spool file held: the batches that could be read, and what was wrong, if anything. */
export interface SpoolContents {
  batches: SpooledBatch[];
  /** Why (part of) the file could not be read; undefined when it was whole. */
  damaged?: string;
}

/** The batches in a spool file, or undefined when there is none. Never throws. */
export function readSpool(path: string): SpoolContents | undefined {
  let text: string;
  try {
    text = Deno.readTextFileSync(path);
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) return undefined;
    return { batches: [], damaged: (error as Error).message };
  }
  const lines = text.split("\n");
  if (lines[0]?.trim() !== SPOOL_HEAD) return readSpoolVersion1(text);
  const batches: SpooledBatch[] = [];
  let bad = 0;
  for (const line of lines.slice(1)) {
    if (line.trim() === "") continue;
    const batch = parseJson(line);
    if (isBatch(batch)) batches.push(batch);
    else bad++;
  }
  if (!text.endsWith("\n")) return { batches, damaged: "cut short" };
  return bad ? { batches, damaged: `${bad} unreadable batches` } : { batches };
}

/** A spool as earlier releases wrote it: one JSON document. */
function readSpoolVersion1(text: string): SpoolContents {
  if (text.trim() === "") return { batches: [], damaged: "empty" };
  const parsed = parseJson(text) as { spool?: unknown; batches?: unknown } | undefined;
  if (parsed?.spool !== 1 || !Array.isArray(parsed.batches)) {
    return { batches: [], damaged: "not a usage spool" };
  }
  const batches = parsed.batches.filter(isBatch);
  const bad = parsed.batches.length - batches.length;
  return bad ? { batches, damaged: `${bad} unreadable batches` } : { batches };
}

function parseJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}

const isCount = (v: unknown) => Number.isSafeInteger(v) && (v as number) >= 0;

/** Whether `value` has the shape of a batch this program wrote (the store judges the values). */
function isBatch(value: unknown): value is SpooledBatch {
  const b = value as Partial<SpooledBatch> | null;
  return typeof b === "object" && b !== null && typeof b.node === "string" &&
    isCount(b.seq) && Array.isArray(b.deltas) &&
    b.deltas.every((d) =>
      typeof d === "object" && d !== null && isCount(d.id) && isCount(d.up) &&
      isCount(d.down) && isCount(d.openConns)
    );
}
