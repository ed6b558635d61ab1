/** A connection with a read-ahead buffer, so handshakes can peek and give bytes back. */
export class Peer {
  readonly conn: Deno.Conn;
  #reader: ReadableStreamDefaultReader<Uint8Array>;
  #writer: WritableStreamDefaultWriter<Uint8Array>;
  #pending: Uint8Array | null = null;
  #closed = false;

  constructor(conn: Deno.Conn) {
    this.conn = conn;
    this.#reader = conn.readable.getReader();
    this.#writer = conn.writable.getWriter();
  }

  /** The next bytes (given-back bytes first), or `null` at end of stream. */
  async read(): Promise<Uint8Array | null> {
    if (this.#pending) {
      const bytes = this.#pending;
      this.#pending = null;
      return bytes;
    }
    const { value, done } = await this.#reader.read();
    return done ? null : value;
  }

  /**
   * Reads until `decode` returns a value; the bytes after it stay buffered. When `decode`
   * throws, every byte read is put back first, so a caller can still hand them on.
   *
   * @throws {Deno.errors.UnexpectedEof} when the peer closes first, and whatever `decode` throws
   */
  async readFrame<T>(
    decode: (bytes: Uint8Array) => { value: T; consumed: number } | null,
  ): Promise<T> {
    let buffer: Uint8Array = new Uint8Array(0);
    for (;;) {
      const chunk = await this.read();
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
    return this.#writer.write(bytes);
  }

  /** Ends the writing direction (TCP FIN / TLS close_notify) and keeps reading. */
  async closeWrite(): Promise<void> {
    await this.#writer.ready;
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
  const signal = AbortSignal.timeout(ms);
  const expire = () => peer.close();
  signal.addEventListener("abort", expire, { once: true });
  try {
    return await done;
  } catch (error) {
    if (signal.aborted) throw new Deno.errors.TimedOut(`handshake not complete within ${ms} ms`);
    throw error;
  } finally {
    signal.removeEventListener("abort", expire);
  }
}
