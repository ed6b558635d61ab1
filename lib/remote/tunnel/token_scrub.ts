/**
 * Keeps known tokens away from the fallback site: the first 56 bytes a client sends there are
 * held until they can no longer be a token, and a token of a user (now or recently) is
 * replaced by random hex digits before the site sees it.
 */
import { TOKEN_LENGTH } from "../../protocol/trojan.ts";
import { concat, Peer } from "../../common/net/peer.ts";

/** Whether a 56-digit token is one that must not leave the server. */
export type IsKnownToken = (token: string) => boolean;

const HEX = new TextEncoder().encode("0123456789abcdef");

function isHexDigit(c: number): boolean {
  return (c >= 0x30 && c <= 0x39) || (c >= 0x61 && c <= 0x66);
}

/** Whether `bytes` (shorter than a token) could still grow into one. */
function couldBecomeToken(bytes: Uint8Array): boolean {
  return bytes.length < TOKEN_LENGTH && bytes.every(isHexDigit);
}

/**
 * `bytes` with a known token at its start replaced by random lowercase hex digits (the same
 * length, so the site answers as it would any wrong key); other bytes unchanged.
 *
 * @example scrubToken(received, (t) => accounts.isKnownToken(t));
 */
export function scrubToken(bytes: Uint8Array, isKnown: IsKnownToken): Uint8Array {
  if (bytes.length < TOKEN_LENGTH) return bytes;
  const head = bytes.subarray(0, TOKEN_LENGTH);
  if (!head.every(isHexDigit) || !isKnown(new TextDecoder().decode(head))) return bytes;
  const out = bytes.slice();
  const random = crypto.getRandomValues(new Uint8Array(TOKEN_LENGTH));
  for (let i = 0; i < TOKEN_LENGTH; i++) out[i] = HEX[random[i] & 15];
  return out;
}

/**
 * The client's side of a fallback relay: reads as `inner` does, except that the stream's first
 * bytes are held while they could still become a token (more arrive, a non-hex byte comes or
 * the client ends) and pass through {@linkcode scrubToken}. Everything after passes untouched.
 * Writes and closes go to `inner`.
 *
 * @example await relay(new ScrubbedPeer(peer, isKnown), site);
 */
export class ScrubbedPeer extends Peer {
  readonly #inner: Peer;
  readonly #isKnown: IsKnownToken;
  #checked = false;

  constructor(inner: Peer, isKnown: IsKnownToken) {
    super(inner.conn);
    this.#inner = inner;
    this.#isKnown = isKnown;
  }

  override async read(): Promise<Uint8Array | null> {
    if (this.#checked) return await this.#inner.read();
    let head: Uint8Array = new Uint8Array(0);
    for (;;) {
      const chunk = await this.#inner.read();
      if (chunk === null) break;
      head = head.length ? concat(head, chunk) : chunk.slice();
      this.#inner.recycle(chunk);
      if (!couldBecomeToken(head)) break;
    }
    this.#checked = true;
    if (head.length === 0) return null;
    return scrubToken(head, this.#isKnown);
  }

  override readAhead(): Promise<Uint8Array | null> {
    return this.#inner.readAhead();
  }

  override recycle(chunk: Uint8Array): void {
    if (this.#checked) this.#inner.recycle(chunk);
  }

  override write(bytes: Uint8Array): Promise<void> {
    return this.#inner.write(bytes);
  }

  override closeWrite(): Promise<void> {
    return this.#inner.closeWrite();
  }

  override close(): void {
    this.#inner.close();
  }

  override get closed(): boolean {
    return this.#inner.closed;
  }
}
