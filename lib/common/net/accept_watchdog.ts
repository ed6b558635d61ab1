/**
 * Notices a listener that has stopped accepting and re-arms it.
 *
 * Why: under Deno 2.9 a `node:net`/`node:tls` server whose accept fails with EMFILE (out of
 * file descriptors) stops accepting for good: no `error` event, `listening` stays true, and
 * connections pile up in the kernel's accept queue even after descriptors are free again
 * (measured: `ulimit -n 256`, 230 held connections, then every new one timed out until a
 * restart). Calling the handle's `listen` again restarts its accept loop, and is a no-op on a
 * live one.
 */
import { relisten } from "./node_internals.ts";
import type { Server } from "node:net";
import { logger } from "../ops/logging.ts";
import { FdReserve } from "./fd_reserve.ts";

const log = logger("listener");

/** What {@linkcode AcceptWatchdog} watches and how it repairs it. */
export interface AcceptWatchdogOptions {
  /** The listening address; a wildcard one is probed on loopback. */
  hostname: string;
  port: number;
  /** Restarts the listener's accept loop. */
  rearm(): void;
  /** Called on each stall, after the reserve is given back: close what can be spared. */
  onStall?(): void;
  /** How often an idle listener is probed (default 1 s). */
  intervalMs?: number;
  /** Descriptors held back for a stall (default 16). */
  reserve?: number;
}

/**
 * Every interval without an accepted connection, connects to the listener itself; a probe not
 * accepted by the next interval (or that cannot even be opened) means the accept loop has
 * stalled. Then it gives back its reserve of descriptors, calls `onStall`, re-arms the
 * listener, and logs once a minute at most. Feed it every accepted socket through
 * {@linkcode noteAccept}, and drop the ones it says are its probes.
 *
 * @example
 * const watchdog = new AcceptWatchdog({ hostname, port, rearm: () => handle.listen(511) });
 * server.on("connection", (socket) => {
 *   if (watchdog.noteAccept(socket.remoteAddress, socket.remotePort)) socket.destroy();
 * });
 */
export class AcceptWatchdog {
  readonly #options: AcceptWatchdogOptions;
  readonly #reserve: FdReserve;
  readonly #timer: ReturnType<typeof setInterval>;
  #accepts = 0;
  #seen = 0;
  #probing = false;
  #probe: Deno.TcpConn | null = null;
  /** Sockets accepted while a probe was connecting: it may be accepted before it resolves. */
  readonly #acceptedWhileProbing = new Set<string>();
  #stalledSince: number | null = null;
  #lastWarning = -Infinity;
  #warned = false;
  #stopped = false;

  constructor(options: AcceptWatchdogOptions) {
    this.#options = options;
    this.#reserve = new FdReserve(options.reserve ?? 16);
    this.#timer = setInterval(() => this.#tick(), options.intervalMs ?? 1000);
    Deno.unrefTimer(this.#timer);
  }

  /** Counts an accepted socket; true when it is one of the watchdog's own probes. */
  noteAccept(address: string | undefined, port: number | undefined): boolean {
    this.#accepts++;
    if (this.#probing && this.#acceptedWhileProbing.size < 256) {
      this.#acceptedWhileProbing.add(`${unmapped(address)} ${port}`);
    }
    const probe = this.#probe?.localAddr as Deno.NetAddr | undefined;
    if (!probe || probe.port !== port || unmapped(address) !== unmapped(probe.hostname)) {
      return false;
    }
    this.#closeProbe();
    return true;
  }

  /** Stops probing and gives the reserve back. */
  stop(): void {
    this.#stopped = true;
    clearInterval(this.#timer);
    this.#closeProbe();
    this.#reserve.release();
  }

  #tick(): void {
    if (this.#accepts !== this.#seen) {
      this.#seen = this.#accepts;
      this.#recovered();
    } else if (this.#probe) {
      this.#stalled("a connection to itself was not accepted");
    } else if (!this.#probing) {
      this.#sendProbe();
    }
  }

  #sendProbe(): void {
    this.#probing = true;
    const hostname = probeHost(this.#options.hostname);
    Deno.connect({ hostname, port: this.#options.port }).then((conn) => {
      this.#probing = false;
      const local = conn.localAddr as Deno.NetAddr;
      const accepted = this.#acceptedWhileProbing.has(`${unmapped(local.hostname)} ${local.port}`);
      this.#acceptedWhileProbing.clear();
      if (this.#stopped || accepted) return conn.close();
      conn.unref();
      this.#probe = conn;
    }, (error: Error) => {
      this.#probing = false;
      this.#acceptedWhileProbing.clear();
      if (!this.#stopped) this.#stalled(`a connection to itself failed: ${error.message}`);
    });
  }

  #stalled(why: string): void {
    this.#closeProbe();
    this.#stalledSince ??= performance.now();
    const released = this.#reserve.release();
    this.#options.onStall?.();
    const now = performance.now();
    if (now - this.#lastWarning >= 60_000) {
      this.#lastWarning = now;
      this.#warned = true;
      log.warn(
        "the listener on port {port} stopped accepting connections ({why}; out of file descriptors?): gave back {released} reserved descriptors, closed the oldest connections not logged in, re-armed it",
        { port: this.#options.port, why, released },
      );
    }
    this.#options.rearm();
  }

  #recovered(): void {
    if (this.#stalledSince === null) return;
    if (this.#warned) {
      log.info("the listener on port {port} accepts connections again (stalled {seconds} s)", {
        port: this.#options.port,
        seconds: Math.round((performance.now() - this.#stalledSince) / 100) / 10,
      });
    }
    this.#stalledSince = null;
    this.#warned = false;
    this.#reserve.refill();
  }

  #closeProbe(): void {
    try {
      this.#probe?.close();
    } catch {
      // closed already
    }
    this.#probe = null;
  }
}

/** node's default listen backlog. */
const BACKLOG = 511;

/**
 * Binds `hostname:port` with Deno and lets it go: node:net binds asynchronously, so this makes
 * a taken address throw at once (as `Deno.listen` does) and gives port 0 a real port.
 *
 * @throws {Deno.errors.AddrInUse} when the address is taken
 * @example const addr = claimAddress("127.0.0.1", 0); server.listen(addr.port, addr.hostname);
 */
export function claimAddress(hostname: string, port: number): Deno.NetAddr {
  const probe = Deno.listen({ hostname, port });
  const addr = probe.addr;
  probe.close();
  return addr;
}

/**
 * Restarts a node:net server's accept loop after EMFILE (the `rearm` of an
 * {@linkcode AcceptWatchdog}); a no-op on a live one.
 *
 * @example new AcceptWatchdog({ ...addr, rearm: () => rearmNodeServer(server, addr) });
 */
export function rearmNodeServer(server: Server, addr: Deno.NetAddr): void {
  if (relisten(server, BACKLOG)) return;
  // No internal handle to re-arm (another Deno): listen anew, losing the accept queue.
  server.close();
  server.listen(addr.port, addr.hostname);
}

/** Where to probe a listener bound to `hostname`: loopback for a wildcard address. */
function probeHost(hostname: string): string {
  if (hostname === "0.0.0.0" || hostname === "") return "127.0.0.1";
  if (hostname === "::" || hostname === "[::]") return "::1";
  return hostname.replace(/^\[(.*)\]$/, "$1");
}

function unmapped(address: string | undefined): string {
  return (address ?? "").replace(/^::ffff:/i, "");
}
