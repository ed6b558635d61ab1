/**
 * Request bodies of the programs' own pages, read only up to a size: a `Content-Length` above it
 * is refused before a byte is read, and a chunked body is cut off at it while being read.
 */

/** The admin login's body at most: `{"password": "..."}` with room to spare. */
export const LOGIN_BODY_LIMIT = 4 * 1024;
/** Every other JSON body of the admin API and the dashboard at most. */
export const JSON_BODY_LIMIT = 64 * 1024;

/** Thrown for a body above its limit; the web server answers it with 413 and a close. */
export class BodyTooLarge extends Error {
  constructor(limit: number) {
    super(`the request body is larger than ${limit} bytes`);
    this.name = "BodyTooLarge";
  }
}

/**
 * The request's body as text, read only up to `limit` bytes.
 *
 * @throws {BodyTooLarge} when `Content-Length` or the bytes read pass `limit`
 * @example const text = await readBodyText(request, JSON_BODY_LIMIT);
 */
export async function readBodyText(request: Request, limit: number): Promise<string> {
  const declared = Number(request.headers.get("content-length") ?? 0);
  if (!(declared <= limit)) throw new BodyTooLarge(limit);
  if (!request.body) return "";
  const chunks: Uint8Array[] = [];
  let total = 0;
  const reader = request.body.getReader();
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    total += value.length;
    if (total > limit) {
      await reader.cancel().catch(() => {});
      throw new BodyTooLarge(limit);
    }
    chunks.push(value);
  }
  const bytes = new Uint8Array(total);
  let at = 0;
  for (const chunk of chunks) {
    bytes.set(chunk, at);
    at += chunk.length;
  }
  return new TextDecoder().decode(bytes);
}
