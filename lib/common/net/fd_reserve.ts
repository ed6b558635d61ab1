/**
 * Descriptors held back for bad times: when the process has run out (EMFILE), giving these back
 * lets it accept the waiting connections it must close, write its logs and its usage counts.
 */

/**
 * Formats one stack trace, so that the next one can be formatted without a free descriptor.
 *
 * Why: Deno 2.9 panics, ending the process, when the first stack trace of its main thread is
 * formatted while it is out of descriptors (reading `error.stack` needs its stack's bounds,
 * which it reads from `/proc/self/maps` once and keeps; `assertion left == right failed, left:
 * 24`). A failed accept is logged with its error, so that first one came exactly then: the
 * local died of about 240 idle connections to its proxy. Every listener calls this at start.
 */
export function warmStackTraces(): void {
  void new Error("warm-up").stack;
}

/**
 * Holds up to `size` open descriptors (of the null device) until {@linkcode release}. Where
 * there is no null device to open, it holds none and does nothing.
 *
 * @example
 * const reserve = new FdReserve(16);
 * // out of descriptors:
 * reserve.release();
 * // later, when descriptors are free again:
 * reserve.refill();
 */
export class FdReserve {
  readonly size: number;
  readonly #files: Deno.FsFile[] = [];

  constructor(size: number) {
    this.size = size;
    warmStackTraces();
    this.refill();
  }

  /** Closes the held descriptors, so the process can use them; returns how many. */
  release(): number {
    const count = this.#files.length;
    for (const file of this.#files.splice(0)) file.close();
    return count;
  }

  /** Opens descriptors up to `size` again; stops quietly at the first that cannot be opened. */
  refill(): void {
    while (this.#files.length < this.size) {
      try {
        this.#files.push(Deno.openSync(Deno.build.os === "windows" ? "NUL" : "/dev/null"));
      } catch {
        return;
      }
    }
  }

  /** Descriptors held now. */
  get held(): number {
    return this.#files.length;
  }
}
