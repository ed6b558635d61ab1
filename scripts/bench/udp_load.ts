/**
 * The UDP load: SOCKS5 UDP associations through a contender's SOCKS5 port to the UDP echo
 * (`udp_echo.py`), 1400-byte datagrams, counting what comes back. Two ways to offer load:
 * as fast as the sockets take it (the rate a contender delivers), and paced at a given rate
 * (the loss a contender shows at a rate another one sustains).
 */
import { decodeReply, encodeGreeting, encodeRequest, Method } from "../../lib/protocol/socks5.ts";
import { Command } from "../../lib/protocol/socks5.ts";
import { encodeSocksDatagram } from "../../lib/protocol/socks5_udp.ts";
import { readExactly, writeAll } from "../../lib/common/net/conn_io.ts";
import { bindUdp, closeUdp, receiveEach } from "../../lib/common/udp/udp_socket.ts";

/** Payload of every datagram. */
export const DATAGRAM = 1400;

/** What one run of UDP load saw. */
export interface UdpResult {
  sent: number;
  received: number;
  /** Echoed datagrams per second over the sending time. */
  perSecond: number;
  /** Echoed payload, MB/s (10^6 bytes), one way. */
  mbPerSecond: number;
  /** Datagrams that did not come back, in %. */
  lossPercent: number;
}

interface Association {
  control: Deno.TcpConn;
  socket: Deno.DatagramConn;
  relay: Deno.NetAddr;
  received: number;
  receiving: Promise<unknown>;
  /** Wakes a windowed sender waiting for an echo. */
  wake?: () => void;
}

/** Datagrams in flight per association in the windowed runs. */
const WINDOW = 64;
/** A window with no echo for this long has lost what is in it. */
const LOST_MS = 50;

async function associate(socksPort: number): Promise<Association> {
  const socket = bindUdp("127.0.0.1");
  const control = await Deno.connect({ hostname: "127.0.0.1", port: socksPort });
  control.setNoDelay(true);
  await writeAll(control, encodeGreeting([Method.noAuth]));
  await readExactly(control, 2);
  const port = (socket.addr as Deno.NetAddr).port;
  await writeAll(
    control,
    encodeRequest({ command: Command.udpAssociate, destination: { host: "0.0.0.0", port } }),
  );
  const head = await readExactly(control, 4);
  const rest = await readExactly(control, head[3] === 4 ? 18 : 6);
  const reply = decodeReply(Uint8Array.of(...head, ...rest))!.value;
  if (reply.reply !== 0) throw new Error(`UDP ASSOCIATE refused: REP ${reply.reply}`);
  // Some servers answer 0.0.0.0: the relay is then where the control connection went.
  const host = reply.bound.host === "0.0.0.0" ? "127.0.0.1" : reply.bound.host;
  const association: Association = {
    control,
    socket,
    relay: { transport: "udp", hostname: host, port: reply.bound.port },
    received: 0,
    receiving: Promise.resolve(),
  };
  association.receiving = receiveEach(socket, () => {
    association.received++;
    association.wake?.();
  });
  return association;
}

/**
 * Sends 1400-byte datagrams through `associations` SOCKS5 UDP associations for `ms`, with at
 * most 64 in flight on each, or at `rate` datagrams per second in total; waits a moment for the
 * last echoes.
 *
 * @example const result = await udpLoad(socksPort, echoPort, 8, 3000);
 */
export async function udpLoad(
  socksPort: number,
  echoPort: number,
  associations: number,
  ms: number,
  rate?: number,
): Promise<UdpResult> {
  const all = await Promise.all(Array.from({ length: associations }, () => associate(socksPort)));
  const datagram = encodeSocksDatagram(
    { host: "127.0.0.1", port: echoPort },
    new Uint8Array(DATAGRAM).fill(0x55),
  );
  // Warm-up: every association carries one echo before the clock starts.
  for (const a of all) await a.socket.send(datagram, a.relay);
  await new Promise((r) => setTimeout(r, 300));
  for (const a of all) a.received = 0;
  let sent = 0;
  const started = performance.now();
  const tick = 5;
  await Promise.all(all.map(async (a) => {
    // Paced: what is due by now, from the elapsed time (timers are late under load).
    const perMs = rate ? rate / associations / 1000 : 0;
    let mine = 0;
    while (performance.now() - started < ms) {
      if (rate) {
        const due = Math.floor((performance.now() - started) * perMs);
        for (; mine < due; mine++) {
          await a.socket.send(datagram, a.relay);
          sent++;
        }
        await new Promise((r) => setTimeout(r, tick));
        continue;
      }
      // Windowed: at most WINDOW in flight; a window that stops moving for LOST_MS has lost
      // what is in it, and sending goes on.
      if (mine - a.received < WINDOW) {
        await a.socket.send(datagram, a.relay);
        mine++;
        sent++;
        continue;
      }
      const before = a.received;
      await new Promise<void>((resolve) => {
        a.wake = resolve;
        setTimeout(resolve, LOST_MS);
      });
      a.wake = undefined;
      if (a.received === before) mine = a.received;
    }
  }));
  const seconds = (performance.now() - started) / 1000;
  await new Promise((r) => setTimeout(r, 500));
  const received = all.reduce((n, a) => n + a.received, 0);
  for (const a of all) {
    closeUdp(a.socket);
    a.control.close();
  }
  await Promise.all(all.map((a) => a.receiving));
  const perSecond = received / seconds;
  return {
    sent,
    received,
    perSecond,
    mbPerSecond: perSecond * DATAGRAM / 1e6,
    lossPercent: sent ? Math.max(0, 100 * (1 - received / sent)) : 0,
  };
}
