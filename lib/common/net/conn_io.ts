/** Whole-buffer reads and writes on a `Deno.Conn`, whose own `read`/`write` may do part. */

/**
 * Writes all of `bytes`: `Conn.write` may take only some of them (a TLS write takes at most
 * 64 KiB).
 */
export async function writeAll(conn: Deno.Conn, bytes: Uint8Array): Promise<void> {
  for (let written = 0; written < bytes.length;) {
    written += await conn.write(bytes.subarray(written));
  }
}

/**
 * Reads exactly `length` bytes.
 *
 * @throws {Deno.errors.UnexpectedEof} when the connection closes first
 */
export async function readExactly(conn: Deno.Conn, length: number): Promise<Uint8Array> {
  const out = new Uint8Array(length);
  let filled = 0;
  while (filled < length) {
    const n = await conn.read(out.subarray(filled));
    if (n === null) throw new Deno.errors.UnexpectedEof(`closed after ${filled}/${length} bytes`);
    filled += n;
  }
  return out;
}
