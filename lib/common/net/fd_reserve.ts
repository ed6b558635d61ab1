/**
 * Descriptors held back for bad times: when the process has run out (EMFILE), giving these back
 * lets it accept the waiting connections it must close, write its logs and its usage counts.
 */

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
