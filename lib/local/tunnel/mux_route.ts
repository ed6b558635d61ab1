/**
 * `--mux N`: the route that carries app connections as Mux.Cool sub-connections over up to N
 * tunnels (`mux_tunnel.ts`), so a new connection on an open tunnel costs a frame rather than a
 * TLS handshake and a round trip. Connections spread over the tunnels while a TLS connection is
 * ready to open another at no wait; otherwise a tunnel takes up to {@linkcode MUX_CONCURRENCY}
 * before one is dialled. A tunnel that fails takes its sub-connections with it, and new ones go
 * to another. The tunnels come from the `TunnelDialer` (its ready pool, its certificate checks).
 */
import { MUX_COOL } from "../../protocol/mux_cool.ts";
import type { Destination } from "../../protocol/address.ts";
import { Peer } from "../../common/net/peer.ts";
import type { MuxBounds } from "../../common/mux/mux_sessions.ts";
import type { Route, RouteConn } from "./route.ts";
import type { TunnelDialer } from "./tunnel.ts";
import { LOCAL_MUX_BOUNDS, MuxTunnel } from "./mux_tunnel.ts";

/**
 * Sub-connections a tunnel takes before another is dialled (while fewer than N are open and
 * none is ready): V2Ray's default `concurrency`. Joining an open tunnel costs no wait, a dial
 * two round trips, so a burst (a page opens 20–30 connections at once) joins rather than waits,
 * up to 8; past that, a lost packet or a slow reader would hold up more connections than the
 * wait for a new tunnel costs them.
 */
export const MUX_CONCURRENCY = 8;

/**
 * Most sub-connections on one tunnel: what our remote takes (`MAX_STREAMS` there). Past N
 * tunnels at this many each, another tunnel is opened rather than a refusal risked.
 */
export const MUX_MAX_PER_TUNNEL = 1024;

/** A tunnel with no sub-connection for this long is closed (the remote's idle default is 300 s). */
export const MUX_IDLE_MS = 60_000;

/** Options of a {@linkcode MuxRoute}. */
export interface MuxOptions {
  /** Most tunnels open at once (`--mux N`). */
  tunnels: number;
  /** Sub-connections per tunnel before another is opened; default {@linkcode MUX_CONCURRENCY}. */
  concurrency?: number;
  /** Queue bounds of each tunnel's reader; default {@linkcode LOCAL_MUX_BOUNDS}. */
  bounds?: MuxBounds;
  /** Closes a tunnel with no sub-connection after this long; default {@linkcode MUX_IDLE_MS}. */
  idleMs?: number;
}

/** A connection on a mux tunnel: which tunnel, and why it failed once it did. */
export interface MuxRouteConn extends RouteConn {
  /** The tunnel's number (1, 2, …; a new tunnel takes the next), for the dashboard. */
  readonly tunnel: number;
}

/**
 * Opens sub-connections on up to `tunnels` Mux.Cool tunnels. Call {@linkcode close} when done.
 *
 * @example
 * const route = new MuxRoute(new TunnelDialer(endpoint), { tunnels: 2 });
 * const { peer, first } = await route.open({ host: "example.com", port: 443 });
 * await peer.write(first(request));
 */
export class MuxRoute implements Route {
  readonly #dialer: TunnelDialer;
  readonly #options: Required<MuxOptions>;
  readonly #tunnels = new Set<MuxTunnel>();
  readonly #idle = new Map<MuxTunnel, ReturnType<typeof setTimeout>>();
  #numbers = 0;
  #closed = false;

  constructor(dialer: TunnelDialer, options: MuxOptions) {
    this.#dialer = dialer;
    this.#options = {
      concurrency: MUX_CONCURRENCY,
      bounds: LOCAL_MUX_BOUNDS,
      idleMs: MUX_IDLE_MS,
      ...options,
    };
  }

  /** Tunnels open or being dialled. */
  get tunnels(): number {
    return this.#tunnels.size;
  }

  /**
   * A sub-connection to `destination` on the least busy tunnel, or on a new one while all are
   * at their concurrency and fewer than N are open (or all are at {@linkcode MUX_MAX_PER_TUNNEL}).
   *
   * @throws {TunnelError} when the tunnel it would use cannot be opened
   */
  async open(destination: Destination, network: "tcp" | "udp" = "tcp"): Promise<MuxRouteConn> {
    for (let attempt = 0;; attempt++) {
      const tunnel = this.#pick();
      clearTimeout(this.#idle.get(tunnel));
      this.#idle.delete(tunnel);
      // Taken now, before any wait: the opens of a burst see each other's load.
      const stream = tunnel.open({ network, ...destination });
      try {
        await tunnel.ready;
      } catch (error) {
        stream.close();
        throw error;
      }
      // Dialled but gone meanwhile (the remote closed it): another, once.
      if (stream.lost !== null && attempt === 0) {
        stream.close();
        continue;
      }
      return {
        peer: new Peer(stream),
        first(payload) {
          if (payload.length === 0) stream.announce();
          return payload;
        },
        lost: () => stream.lost,
        tunnel: tunnel.number,
      };
    }
  }

  /**
   * The tunnel for a new sub-connection: an idle one; else a new one while fewer than N are
   * open and the dialer has a TLS connection ready (spreading costs no wait then, and fewer
   * connections share a loss or a slow reader); else the least busy below the concurrency;
   * else a new one while fewer than N are open; else the least busy.
   */
  #pick(): MuxTunnel {
    let best: MuxTunnel | null = null;
    for (const tunnel of this.#tunnels) {
      if (tunnel.usable && (!best || tunnel.load < best.load)) best = tunnel;
    }
    const { tunnels, concurrency } = this.#options;
    const room = this.#tunnels.size < tunnels;
    if (!best || best.load >= MUX_MAX_PER_TUNNEL) return this.#dial();
    if (best.load === 0) return best;
    if (room && this.#dialer.ready > 0) return this.#dial();
    if (best.load < concurrency || !room) return best;
    return this.#dial();
  }

  #dial(): MuxTunnel {
    const tunnel = new MuxTunnel(
      ++this.#numbers,
      this.#dialer.connect(),
      this.#dialer.header(MUX_COOL),
      this.#options.bounds,
      { ended: (gone) => this.#forget(gone), emptied: (empty) => this.#watch(empty) },
    );
    tunnel.ready.catch(() => {});
    this.#tunnels.add(tunnel);
    if (this.#closed) tunnel.close();
    return tunnel;
  }

  /** Its last sub-connection ended: an empty tunnel is closed after a while. */
  #watch(tunnel: MuxTunnel): void {
    if (tunnel.load > 0 || this.#idle.has(tunnel)) return;
    this.#idle.set(
      tunnel,
      setTimeout(() => {
        this.#idle.delete(tunnel);
        if (tunnel.load === 0) tunnel.close("idle");
      }, this.#options.idleMs),
    );
  }

  #forget(tunnel: MuxTunnel): void {
    this.#tunnels.delete(tunnel);
    clearTimeout(this.#idle.get(tunnel));
    this.#idle.delete(tunnel);
  }

  /** Closes every tunnel (their sub-connections end) and the dialer's pool. */
  close(): void {
    this.#closed = true;
    for (const tunnel of [...this.#tunnels]) tunnel.close();
    this.#dialer.close();
  }
}
