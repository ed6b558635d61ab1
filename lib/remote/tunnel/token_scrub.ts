/**
 * Keeps known tokens away from the fallback site: the first 56 bytes a client sends there are
 * held until they can no longer be a token, and a token of a user (now or recently) is
 * replaced by random hex digits before the site sees it; a subscription token anywhere in the
 * stream (after `/sub/`: a request line, a `Referer`) is replaced by random characters.
 */
import { TOKEN_LENGTH } from "../../protocol/trojan.ts";
import { concat, Peer } from "../../common/net/peer.ts";
import { SUBSCRIPTION_PATH } from "../share/subscription_token.ts";

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
  for (let i = 0; i < TOKEN_LENGTH; i++) out[i] = HEX[random[i]! & 15]!;
  return out;
}

const MARK = new TextEncoder().encode(SUBSCRIPTION_PATH);
const BASE64URL = new TextEncoder().encode(
  "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_",
);
const IS_BASE64URL = new Uint8Array(256).map((_, c) => BASE64URL.includes(c) ? 1 : 0);

/**
 * Replaces, in place, every run of token characters (base64url) that follows `/sub/` in a
 * stream, however the stream is cut into chunks: a subscription request that stalled past the
 * handshake deadline, or came second on a kept-alive connection, or a `Referer` naming one,
 * reaches the site with random characters where the token was. Holds nothing back.
 *
 * @example const scrub = new SubscriptionScrub(); scrub.scrub(chunk); // before writing it
 */
export class SubscriptionScrub {
  /** How many bytes of `/sub/` the stream ended with so far. */
  #matched = 0;
  #inToken = false;
  readonly #random = new Uint8Array(64);
  #used = 64;

  /** Scrubs `bytes` in place, carrying over what the previous chunk ended with. */
  scrub(bytes: Uint8Array): void {
    for (let i = 0; i < bytes.length; i++) {
      const c = bytes[i]!;
      if (this.#inToken) {
        if (IS_BASE64URL[c]) {
          if (this.#used === this.#random.length) {
            crypto.getRandomValues(this.#random);
            this.#used = 0;
          }
          bytes[i] = BASE64URL[this.#random[this.#used++]! & 63]!;
          continue;
        }
        this.#inToken = false;
      }
      this.#matched = c === MARK[this.#matched] ? this.#matched + 1 : c === MARK[0] ? 1 : 0;
      if (this.#matched === MARK.length) {
        this.#matched = 0;
        this.#inToken = true;
      }
    }
  }
}

/**
 * The client's side of a fallback relay: reads as `inner` does, except that the stream's first
 * bytes are held while they could still become a token (more arrive, a non-hex byte comes or
 * the client ends) and pass through {@linkcode scrubToken}; every byte also passes through a
 * {@linkcode SubscriptionScrub}. Writes and closes go to `inner`.
 *
 * @example await relay(new ScrubbedPeer(peer, isKnown), site);
 */
export class ScrubbedPeer extends Peer {
  readonly #inner: Peer;
  readonly #isKnown: IsKnownToken;
  readonly #subscriptions = new SubscriptionScrub();
  #checked = false;

  constructor(inner: Peer, isKnown: IsKnownToken) {
    super(inner.conn);
    this.#inner = inner;
    this.#isKnown = isKnown;
  }

  override async read(): Promise<Uint8Array | null> {
    if (this.#checked) {
      const chunk = await this.#inner.read();
      if (chunk) this.#subscriptions.scrub(chunk);
      return chunk;
    }
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
    const out = scrubToken(head, this.#isKnown);
    this.#subscriptions.scrub(out);
    return out;
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
