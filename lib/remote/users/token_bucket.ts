/**
 * The one token bucket: a rate in bytes per second shared by any number of connections, with
 * a FIFO queue of waiters so they take turns, and a rate that can change while they wait.
 */

/** Smallest and largest piece a limited relay passes at once (see {@linkcode TokenBucket.quantum}). */
const MIN_QUANTUM = 1024;
const MAX_QUANTUM = 64 * 1024;
/** Pieces per second of rate: small enough that turns interleave finely at low rates. */
const PIECES_PER_SECOND = 16;

interface Waiter {
  bytes: number;
  resolve: () => void;
  signal?: AbortSignal;
  onAbort?: () => void;
}

/**
 * A token bucket holding at most one second's worth of tokens (or `burst` seconds' worth; 0
 * keeps it empty, so bytes pass at the rate from the first one). `take` is synchronous (returns
 * nothing) while tokens suffice and nobody waits, and for a rate of 0 (unlimited); otherwise
 * it returns a promise that settles when the bytes are paid for, in arrival order.
 *
 * @example
 * const bucket = new TokenBucket(1024 * 1024);
 * const wait = bucket.take(chunk.length);
 * if (wait) await wait;
 */
export class TokenBucket {
  #rate: number;
  #tokens: number;
  #burst = 1;
  #last = performance.now();
  #queue: Waiter[] = [];
  #head = 0;
  #timer: ReturnType<typeof setTimeout> | undefined;

  /** @param rate bytes per second, 0 for unlimited; the bucket starts full */
  constructor(rate: number) {
    this.#rate = rate;
    this.#tokens = rate;
  }

  /** Bytes per second, 0 for unlimited. */
  get rate(): number {
    return this.#rate;
  }

  /**
   * Changes the rate in place; waiters are rescheduled at once. Going from unlimited to a limit
   * starts with an empty bucket, so the change does not add a burst to what just flowed; going
   * to 0 lets every waiter through.
   */
  set rate(rate: number) {
    if (rate === this.#rate) return;
    this.#refill();
    const wasUnlimited = this.#rate === 0;
    this.#rate = rate;
    this.#tokens = wasUnlimited ? 0 : Math.min(this.#tokens, this.#capacity);
    this.#last = performance.now();
    this.#drain();
  }

  /** Seconds of the rate the bucket holds at most (1 unless set). */
  get burst(): number {
    return this.#burst;
  }

  /** Changes how many seconds of the rate the bucket holds; tokens above that are dropped. */
  set burst(seconds: number) {
    if (seconds === this.#burst) return;
    this.#refill();
    this.#burst = seconds;
    this.#tokens = Math.min(this.#tokens, this.#capacity);
    if (this.waiting > 0) this.#drain();
  }

  /** Most tokens the bucket holds. */
  get #capacity(): number {
    return this.#rate * this.#burst;
  }

  /**
   * The largest piece to pass in one write under this limit, so several connections' turns
   * interleave finely; 0 when unlimited (no splitting).
   */
  get quantum(): number {
    const rate = this.#rate;
    if (rate === 0) return 0;
    return Math.max(MIN_QUANTUM, Math.min(MAX_QUANTUM, Math.floor(rate / PIECES_PER_SECOND)));
  }

  /** Callers waiting now. */
  get waiting(): number {
    return this.#queue.length - this.#head;
  }

  /**
   * Pays for `bytes`. Returns nothing when they may pass now, else a promise resolved when they
   * may (or when `signal` aborts, so a torn-down connection stops waiting).
   */
  take(bytes: number, signal?: AbortSignal): Promise<void> | void {
    if (this.#rate === 0) return;
    this.#refill();
    if (this.waiting === 0 && this.#tokens >= this.#needed(bytes)) {
      this.#tokens -= bytes;
      return;
    }
    if (signal?.aborted) return;
    return new Promise<void>((resolve) => {
      const waiter: Waiter = { bytes, resolve, signal };
      if (signal) {
        waiter.onAbort = () => {
          const index = this.#queue.indexOf(waiter, this.#head);
          if (index >= 0) this.#queue.splice(index, 1);
          resolve();
        };
        signal.addEventListener("abort", waiter.onAbort, { once: true });
      }
      this.#queue.push(waiter);
      if (this.waiting === 1) this.#schedule();
    });
  }

  /** Tokens a waiter for `bytes` needs before it goes: all of them, or a full bucket. */
  #needed(bytes: number): number {
    // A piece bigger than the bucket may run the bucket into debt, which later waiters repay.
    return Math.min(bytes, this.#capacity);
  }

  #refill(): void {
    const now = performance.now();
    this.#tokens = Math.min(
      this.#capacity,
      this.#tokens + (now - this.#last) * this.#rate / 1000,
    );
    this.#last = now;
  }

  /** Lets through every waiter that can go now, then sleeps until the next one can. */
  #drain(): void {
    clearTimeout(this.#timer);
    this.#timer = undefined;
    if (this.#rate > 0) this.#refill();
    while (this.waiting > 0) {
      const waiter = this.#queue[this.#head]!;
      if (this.#rate > 0) {
        if (this.#tokens < this.#needed(waiter.bytes)) break;
        this.#tokens -= waiter.bytes;
      }
      this.#head++;
      if (waiter.onAbort) waiter.signal!.removeEventListener("abort", waiter.onAbort);
      waiter.resolve();
    }
    if (this.#head > 1024 || this.waiting === 0) {
      this.#queue = this.#queue.slice(this.#head);
      this.#head = 0;
    }
    if (this.waiting > 0) this.#schedule();
  }

  #schedule(): void {
    if (this.#timer !== undefined) return;
    // Called only while someone waits.
    const waiter = this.#queue[this.#head]!;
    const missing = this.#needed(waiter.bytes) - this.#tokens;
    const ms = Math.max(1, Math.ceil(missing * 1000 / this.#rate));
    this.#timer = setTimeout(() => {
      this.#timer = undefined;
      this.#drain();
    }, ms);
  }
}
