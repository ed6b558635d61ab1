/** The local's table of open client connections, for the access log and the dashboard. */
import type { Meter } from "../../common/net/relay.ts";
import type { RouteKind } from "../tunnel/route.ts";

/** One client connection as the dashboard shows it. */
export interface ConnectionInfo {
  id: number;
  client: string;
  /** The client protocol, or "UDP" for a SOCKS5 UDP association. */
  protocol: "SOCKS5" | "HTTP" | "UDP";
  destination: string;
  up: number;
  down: number;
  /** Datagrams each way, for a UDP association. */
  datagrams?: { up: number; down: number };
  startedAt: number;
  /** With `--mux`: the number of the tunnel this connection shares with others. */
  tunnel?: number;
  /** Why the remote refused its tunnel, when it did (kept on the dashboard for a while). */
  failure?: { kind: string; words: string };
  /**
   * Where the rules sent it (a UDP association: its first datagram); absent without rules.
   * A rejected connection is listed for a while after it closed, as a refused one is.
   */
  route?: RouteKind;
  /** The rule that decided, as written. */
  rule?: string;
}

/** How long a refused connection stays listed after it closed, so its reason can be read. */
export const FAILED_SHOWN_MS = 30_000;
/** The most refused connections kept listed. */
const FAILED_KEPT = 20;

/** Open connections and the running totals of bytes moved through the local. */
export class ConnectionTable {
  readonly #open = new Map<number, ConnectionInfo>();
  /** Refused connections that closed, newest last, with when they closed. */
  #failed: { info: ConnectionInfo; at: number }[] = [];
  #nextId = 1;
  /** Bytes moved, all routes. */
  totalUp = 0;
  totalDown = 0;
  /** Of those, the bytes that went straight out (a `DIRECT` rule), not through the remote. */
  directUp = 0;
  directDown = 0;

  /** Registers a connection; call `remove` when it ends. */
  add(client: string, protocol: ConnectionInfo["protocol"]): ConnectionInfo {
    const info: ConnectionInfo = {
      id: this.#nextId++,
      client,
      protocol,
      destination: "",
      up: 0,
      down: 0,
      startedAt: Date.now(),
    };
    this.#open.set(info.id, info);
    return info;
  }

  remove(info: ConnectionInfo): void {
    this.#open.delete(info.id);
    if (info.failure || info.route === "rejected") {
      this.#failed.push({ info, at: Date.now() });
      if (this.#failed.length > FAILED_KEPT) this.#failed.shift();
    }
  }

  /** Connections refused in the last {@linkcode FAILED_SHOWN_MS}, newest first. */
  failed(now = Date.now()): ConnectionInfo[] {
    this.#failed = this.#failed.filter((f) => now - f.at < FAILED_SHOWN_MS);
    return this.#failed.map((f) => f.info).reverse();
  }

  /**
   * Meters that count one connection's bytes into it and into the totals, and into the direct
   * totals while its route is `direct` (a UDP association's datagrams each have their own
   * route: it asks for `direct` meters for those that go straight out).
   */
  meters(info: ConnectionInfo, direct = false): { up: Meter; down: Meter } {
    const isDirect = () => direct || (info.route === "direct" && !info.datagrams);
    return {
      up: {
        take: (n) => {
          info.up += n;
          this.totalUp += n;
          if (isDirect()) this.directUp += n;
        },
      },
      down: {
        take: (n) => {
          info.down += n;
          this.totalDown += n;
          if (isDirect()) this.directDown += n;
        },
      },
    };
  }

  list(): ConnectionInfo[] {
    return [...this.#open.values()];
  }

  get size(): number {
    return this.#open.size;
  }
}
