/**
 * The tunnel header, sent at once, with whatever the app has already sent after its handshake
 * (an HTTP CONNECT's pipelined bytes, a SOCKS5 client's optimistic data) in the same write.
 * Never waits for the app: SMTP, SSH and MySQL servers greet before their client says anything.
 */
import type { Peer } from "../../common/net/peer.ts";
import type { Meter } from "../../common/net/relay.ts";

/**
 * Writes `header(payload)` to `tunnel`, where `payload` is what `client` has buffered beyond
 * its handshake. Those bytes go through `up` as the relay's chunks do (charged before the
 * write, reported sent after).
 *
 * @throws whatever `tunnel.write` throws
 * @example await sendHeader(client, tunnel, (payload) => dialer.header(destination, payload), up);
 */
export async function sendHeader(
  client: Peer,
  tunnel: Peer,
  header: (payload: Uint8Array) => Uint8Array,
  up: Meter,
): Promise<void> {
  const payload = client.takeBuffered();
  if (payload.length > 0) {
    const wait = up.take(payload.length);
    if (wait) await wait;
  }
  await tunnel.write(header(payload));
  if (payload.length > 0) up.sent?.(payload.length);
}
