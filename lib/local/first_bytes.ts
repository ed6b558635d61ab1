/**
 * The tunnel header and the app's first bytes in one write: one TLS record instead of two, so
 * each half has one read, one decryption and one wake-up fewer per connection.
 */
import type { Peer } from "../common/peer.ts";
import type { Meter } from "../common/relay.ts";

/**
 * How long the header waits for the app's first bytes once the app has been answered. An app
 * that speaks first (a TLS ClientHello, an HTTP request) sends them well within this and waits
 * for nothing; one whose server speaks first (SSH, SMTP) has its header sent alone this much
 * later.
 */
export const FIRST_BYTES_WAIT_MS = 5;

/**
 * Writes `header(payload)` to `tunnel`, where `payload` is what `client` sent after its
 * handshake: the bytes already buffered, else those that arrive within `waitMs`. They go
 * through `up` as the relay's chunks do (charged before the write, reported sent after). An
 * end of stream, an error or bytes that come later stay in `client` for the relay.
 *
 * @throws whatever `tunnel.write` throws
 * @example await sendHeader(client, tunnel, (payload) => dialer.header(destination, payload), up);
 */
export async function sendHeader(
  client: Peer,
  tunnel: Peer,
  header: (payload: Uint8Array) => Uint8Array,
  up: Meter,
  waitMs = FIRST_BYTES_WAIT_MS,
): Promise<void> {
  const buffered = client.takeBuffered();
  const payload = buffered.length > 0 ? buffered : await firstBytes(client, waitMs);
  if (payload.length > 0) {
    const wait = up.take(payload.length);
    if (wait) await wait;
  }
  await tunnel.write(header(payload));
  if (payload.length > 0) up.sent?.(payload.length);
}

/** The next bytes of `client` if they come within `ms`, else none (the read stays pending). */
async function firstBytes(client: Peer, ms: number): Promise<Uint8Array> {
  const ahead = client.readAhead();
  // The relay awaits this read later; until then a reset must not count as unhandled.
  ahead.catch(() => {});
  // A plain timer, not AbortSignal.timeout: see withDeadline in peer.ts.
  let timer: ReturnType<typeof setTimeout> | undefined;
  const late = new Promise<null>((resolve) => timer = setTimeout(() => resolve(null), ms));
  try {
    const chunk = await Promise.race([ahead, late]);
    if (chunk === null || chunk.length === 0) return new Uint8Array(0);
    return (await client.read())!;
  } catch {
    return new Uint8Array(0);
  } finally {
    clearTimeout(timer);
  }
}
