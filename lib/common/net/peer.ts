import type { Conn } from "./conn.ts";

/**
 * Read buffer sizes. A pending read holds its buffer for as long as the connection is idle, so
 * an idle connection reads into a small one (thousands of held tunnels stay cheap) and a busy
 * one doubles it up to the largest (fewer, larger reads and writes when bulk data flows).
 */
const MIN_READ = 512;
const MAX_READ = 256 * 1024;

/** A connection with a read-ahead buffer, so handshakes can peek and give bytes back. */
export class Peer {
  readonly conn: Conn;
  /** The write in progress, which later writes wait for, so chunks never interleave. */
  #writing: Promise<void> | null = null;
  #pending: Uint8Array | null = null;
  #closed = false;
  #readSize = MIN_READ;
  /** The buffer of the last chunk read, while the caller may still hold it. */
  #lent: ArrayBuffer | null = null;
  /** A buffer given back by {@linkcode recycle}, reused by the next read. */
  #spare: ArrayBuffer | null = null;
  /** A read started early by {@linkcode readAhead}, returned by the next `read`. */
  #ahead: Promise<Uint8Array | null> | null = null;

  constructor(conn: Conn) {
    // Not `conn.writable`: each of Deno's resource streams is registered for finalization,
    // which keeps it and everything it reaches alive through young-generation GCs, and its
    // promise machinery costs more per chunk than `write` does.
    this.conn = conn;
  }

  /** The next bytes (given-back bytes first), or `null` at end of stream. */
  read(): Promise<Uint8Array | null> {
    if (this.#pending) {
      const bytes = this.#pending;
      this.#pending = null;
      return Promise.resolve(bytes);
    }
    if (this.#ahead) {
      const ahead = this.#ahead;
      this.#ahead = null;
      return ahead;
    }
    return this.#readSocket();
  }

  /**
   * Starts the next read now and returns it; the next `read` returns the same result. A
   * connection kept waiting for use learns this way that the other end has closed it.
   */
  readAhead(): Promise<Uint8Array | null> {
    this.#ahead ??= this.#readSocket();
    return this.#ahead;
  }

  async #readSocket(): Promise<Uint8Array | null> {
    // Not `conn.readable`: Deno closes the whole connection when that stream reaches EOF,
    // which would cut the other direction of a half-closed connection (the reply to a client
    // that has finished sending).
    const size = this.#readSize;
    const spare = this.#spare;
    this.#spare = null;
    const buffer = spare?.byteLength === size ? new Uint8Array(spare) : new Uint8Array(size);
    const n = await this.conn.read(buffer);
    if (n === null) return null;
    if (n === size && size < MAX_READ) this.#readSize = size * 2;
    else if (n < size / 8 && size > MIN_READ) this.#readSize = size / 2;
    this.#lent = buffer.buffer;
    return buffer.subarray(0, n);
  }

  /**
   * Gives back a chunk returned by {@linkcode read} once it is no longer needed (written
   * elsewhere), so the next read can reuse its memory instead of allocating. Optional.
   */
  recycle(chunk: Uint8Array): void {
    if (chunk.buffer === this.#lent) {
      this.#spare = this.#lent;
      this.#lent = null;
    }
  }

  /**
   * Reads until `decode` returns a value; the bytes after it stay buffered. When `decode`
   * throws, every byte read is put back first, so a caller can still hand them on.
   *
   * With `timeoutMs`, gives up after that long, leaving the connection open and every byte
   * read buffered (the read in flight too), so a caller can still hand them on.
   *
   * @throws {Deno.errors.UnexpectedEof} when the peer closes first, and whatever `decode` throws
   * @throws {Deno.errors.TimedOut} when `timeoutMs` passed first
   */
  async readFrame<T>(
    decode: (bytes: Uint8Array) => { value: T; consumed: number } | null,
    timeoutMs?: number,
  ): Promise<T> {
    let buffer: Uint8Array = new Uint8Array(0);
    // A plain timer, not AbortSignal.timeout: see withDeadline below.
    let timer: ReturnType<typeof setTimeout> | undefined;
    const late = timeoutMs === undefined ? undefined : new Promise<"late">((resolve) => {
      timer = setTimeout(() => resolve("late"), timeoutMs);
    });
    try {
      for (;;) {
        // With a deadline, the socket read runs as a read-ahead: when time is up it stays in
        // flight, and the next `read` returns its bytes after the ones put back.
        const racing = late !== undefined && this.#pending === null;
        const chunk = racing ? await Promise.race([this.readAhead(), late]) : await this.read();
        if (chunk === "late") {
          this.unread(buffer);
          throw new Deno.errors.TimedOut(`no complete frame within ${timeoutMs} ms`);
        }
        if (racing) this.#ahead = null;
        if (chunk === null) {
          this.unread(buffer);
          throw new Deno.errors.UnexpectedEof("the peer closed during a handshake");
        }
        buffer = buffer.length ? concat(buffer, chunk) : chunk;
        let decoded;
        try {
          decoded = decode(buffer);
        } catch (error) {
          this.unread(buffer);
          throw error;
        }
        if (decoded) {
          this.unread(buffer.subarray(decoded.consumed));
          return decoded.value;
        }
      }
    } finally {
      clearTimeout(timer);
    }
  }

  /** Puts bytes back to be returned by the next `read`. */
  unread(bytes: Uint8Array): void {
    if (bytes.length === 0) return;
    this.#pending = this.#pending ? concat(bytes, this.#pending) : bytes;
  }

  /** Takes whatever is buffered without reading from the socket. */
  takeBuffered(): Uint8Array {
    const bytes = this.#pending ?? new Uint8Array(0);
    this.#pending = null;
    return bytes;
  }

  /** Writes all of `bytes`, waiting for the socket to take them (backpressure). */
  write(bytes: Uint8Array): Promise<void> {
    if (this.#writing) return this.#writing.then(() => this.write(bytes));
    if (bytes.length === 0) return Promise.resolve();
    this.#writing = this.#writeAll(bytes);
    return this.#writing;
  }

  async #writeAll(bytes: Uint8Array): Promise<void> {
    try {
      // Starts with an await, so this runs after `#writing` is set, as `finally` needs.
      let at = await this.conn.write(bytes);
      while (at < bytes.length) at += await this.conn.write(bytes.subarray(at));
    } finally {
      this.#writing = null;
    }
  }

  /** Ends the writing direction (TCP FIN / TLS close_notify) and keeps reading. */
  async closeWrite(): Promise<void> {
    if (this.#writing) await this.#writing;
    await this.conn.closeWrite();
  }

  /** Closes both directions; safe to call more than once. */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    try {
      this.conn.close();
    } catch {
      // already closed by the runtime after an error
    }
  }

  get closed(): boolean {
    return this.#closed;
  }
}

/** Concatenates two byte arrays. */
export function concat(a: Uint8Array, b: Uint8Array): Uint8Array {
  const out = new Uint8Array(a.length + b.length);
  out.set(a);
  out.set(b, a.length);
  return out;
}

/**
 * Closes `peer` unless `done` settles within `ms`: the handshake deadline.
 *
 * @returns what `done` resolved to
 * @throws {Deno.errors.TimedOut} when the deadline passed first
 */
export async function withDeadline<T>(peer: Peer, ms: number, done: Promise<T>): Promise<T> {
  // A plain timer, not AbortSignal.timeout: that signal lives until it fires, and with it
  // everything it refers to survives young-generation GCs (the latency tail, see BENCHMARKS).
  let expired = false;
  const timer = setTimeout(() => {
    expired = true;
    peer.close();
  }, ms);
  try {
    return await done;
  } catch (error) {
    if (expired) throw new Deno.errors.TimedOut(`handshake not complete within ${ms} ms`);
    throw error;
  } finally {
    clearTimeout(timer);
  }
}

/** How long {@linkcode endAnswer} waits for the client to close, and how much it reads meanwhile. */
const ANSWER_DRAIN_MS = 5_000;
const ANSWER_DRAIN_BYTES = 64 * 1024;

/**
 * Ends a complete answer (a status document, a page, a subscription) gracefully: TLS
 * close_notify and FIN, then waits (up to 5 s, reading at most 64 KiB) for the client to close
 * before closing. Closing at once would be a TCP reset on a `resetOnAbort` connection, and on
 * any connection with received bytes still unread; a reset may overtake data still in flight,
 * and a client on Windows discards what it received. Never throws.
 *
 * @example await peer.write(page); await endAnswer(peer);
 */
export async function endAnswer(peer: Peer): Promise<void> {
  try {
    await peer.closeWrite();
    await peer.readFrame((bytes) => {
      if (bytes.length > ANSWER_DRAIN_BYTES) throw new RangeError("too much after the answer");
      return null;
    }, ANSWER_DRAIN_MS);
  } catch {
    // The client closed (as it should), went away, or kept sending: closed either way.
  } finally {
    peer.close();
  }
}
