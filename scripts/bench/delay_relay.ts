/**
 * A TCP relay on loopback that behaves like a long link: every byte arrives half a round trip
 * after it was sent, in both directions, and a new connection costs one round trip before its
 * first byte can arrive (the SYN and SYN-ACK of a real TCP connect). Run as a process of its
 * own, so the load generator's timers do not disturb its own:
 *
 *   deno run -P=bench scripts/bench/delay_relay.ts --listen 0 --to 8443 --rtt 50 [--loss 1]
 *
 * `--loss P` emulates P % packet loss as the stall it causes a TCP stream (this kernel has no
 * netem): each 1448-byte segment of a chunk is lost with probability P %, and a chunk with a
 * lost segment is held {@linkcode RETRANSMIT_MS} longer, with everything behind it on that
 * connection (TCP delivers in order), as a retransmission timeout would.
 *
 * It prints `relay on PORT` once listening. Half-close is passed on (after the delay); a reset
 * on either side closes both. At most {@linkcode IN_FLIGHT} bytes per direction wait in the
 * relay: past it, it stops reading (backpressure), as a real link's window would.
 */
import { parseArgs } from "node:util";

/** Bytes one direction may hold while they wait out the delay. */
export const IN_FLIGHT = 8 * 1024 * 1024;

/** How long a lost segment holds its stream: about Linux's least retransmission timeout. */
export const RETRANSMIT_MS = 200;
/** A TCP segment's payload on a 1500-byte MTU (with timestamps), for {@linkcode LinkOptions.loss}. */
const SEGMENT = 1448;

/** What {@linkcode relayConn} needs. */
export interface LinkOptions {
  /** The round-trip time in ms; each direction delays by half. */
  rttMs: number;
  /** Emulated loss per segment, 0 to 1 (0: none). */
  loss?: number;
  /** When the client connected: its first byte arrives no earlier than one RTT later. */
  connectedAt: number;
}

/** A chunk (or the end of stream, `null`) and when it may be delivered. */
interface Timed {
  at: number;
  chunk: Uint8Array | null;
}

/**
 * Copies `from` to `to`, each chunk `delayMs` later, never before `notBefore`; a chunk that
 * `loss` hits is held {@linkcode RETRANSMIT_MS} more, and the ones behind it wait for it.
 */
async function delayed(
  from: Deno.TcpConn,
  to: Deno.TcpConn,
  delayMs: number,
  notBefore: number,
  loss = 0,
): Promise<void> {
  const queue: Timed[] = [];
  let held = 0;
  let wake = null as (() => void) | null;
  let drained = null as (() => void) | null;
  let failed = false;
  const writer = (async () => {
    for (;;) {
      while (queue.length === 0) await new Promise<void>((r) => wake = r);
      const { at, chunk } = queue[0]!;
      const wait = at - performance.now();
      if (wait > 0) await new Promise((r) => setTimeout(r, wait));
      queue.shift();
      if (chunk === null) {
        await to.closeWrite().catch(() => {});
        return;
      }
      try {
        for (let done = 0; done < chunk.length;) done += await to.write(chunk.subarray(done));
      } catch {
        failed = true;
        return;
      }
      held -= chunk.length;
      drained?.();
      drained = null;
    }
  })();
  const push = (chunk: Uint8Array | null) => {
    let at = Math.max(performance.now(), notBefore) + delayMs;
    const segments = chunk ? Math.ceil(chunk.length / SEGMENT) : 0;
    if (loss > 0 && Math.random() < 1 - (1 - loss) ** segments) at += RETRANSMIT_MS;
    queue.push({ at, chunk });
    wake?.();
    wake = null;
  };
  try {
    for (;;) {
      const buffer = new Uint8Array(64 * 1024);
      const n = await from.read(buffer);
      if (n === null) break;
      held += n;
      push(buffer.subarray(0, n));
      while (held > IN_FLIGHT && !failed) await new Promise<void>((r) => drained = r);
      if (failed) throw new Error("the other side is gone");
    }
    push(null);
    await writer;
  } catch (error) {
    push(null);
    throw error;
  }
}

/**
 * Relays `client` to `upstream` as over a link of `rttMs`; resolves when both directions have
 * ended, closing both.
 */
export async function relayConn(
  client: Deno.TcpConn,
  upstream: Deno.TcpConn,
  options: LinkOptions,
): Promise<void> {
  const half = options.rttMs / 2;
  const close = () => {
    for (const conn of [client, upstream]) {
      try {
        conn.close();
      } catch {
        // already closed
      }
    }
  };
  try {
    await Promise.all([
      delayed(client, upstream, half, options.connectedAt + options.rttMs, options.loss),
      delayed(upstream, client, half, 0, options.loss),
    ]);
  } catch {
    // a reset on either side ends both
  } finally {
    close();
  }
}

if (import.meta.main) {
  const { values } = parseArgs({
    args: Deno.args,
    options: {
      listen: { type: "string", default: "0" },
      to: { type: "string" },
      rtt: { type: "string", default: "50" },
      loss: { type: "string", default: "0" },
    },
  });
  if (!values.to) throw new Error("--to PORT is required");
  const to = Number(values.to);
  const rttMs = Number(values.rtt);
  const loss = Number(values.loss) / 100;
  const listener = Deno.listen({ hostname: "127.0.0.1", port: Number(values.listen) });
  console.log(`relay on ${listener.addr.port}`);
  for await (const client of listener) {
    const connectedAt = performance.now();
    client.setNoDelay(true);
    Deno.connect({ hostname: "127.0.0.1", port: to }).then((upstream) => {
      upstream.setNoDelay(true);
      return relayConn(client, upstream, { rttMs, connectedAt, loss });
    }).catch(() => client.close());
  }
}
