/**
 * The `DIRECT` route: the local dials the destination itself (the system resolves a name), no
 * remote, no tunnel header. What the app sends first is the first write, as it is.
 */
import { formatHostPort } from "../../protocol/address.ts";
import type { Destination } from "../../protocol/address.ts";
import { Peer } from "../../common/net/peer.ts";
import { TunnelError } from "./tunnel.ts";
import type { Route, RouteConn } from "./route.ts";

/**
 * Opens TCP connections straight to destinations, within `timeoutMs`.
 *
 * @example
 * const { peer, first } = await new DirectRoute(10_000).open({ host: "127.0.0.1", port: 80 });
 * await peer.write(first(request)); // the request as it is
 */
export class DirectRoute implements Route {
  readonly #timeoutMs: number;

  constructor(timeoutMs: number) {
    this.#timeoutMs = timeoutMs;
  }

  /**
   * A TCP connection to `destination` (UDP goes out of the association's own socket).
   *
   * @throws {TunnelError} `refused`, `unreachable` or `timeout`, as a tunnel's would be
   */
  async open(destination: Destination, network: "tcp" | "udp" = "tcp"): Promise<RouteConn> {
    const where = formatHostPort(destination);
    if (network !== "tcp") throw new TunnelError(`no direct route for UDP to ${where}`, "refused");
    // A timer and a controller, not AbortSignal.timeout: see withDeadline in peer.ts.
    const deadline = new AbortController();
    const timer = setTimeout(() => deadline.abort(), this.#timeoutMs);
    try {
      const conn = await Deno.connect({
        hostname: destination.host,
        port: destination.port,
        signal: deadline.signal,
      });
      conn.setNoDelay(true);
      return { peer: new Peer(conn), first: (payload) => payload, via: "direct" };
    } catch (error) {
      if (deadline.signal.aborted) {
        throw new TunnelError(`${where} did not answer in time (direct)`, "timeout");
      }
      if (error instanceof Deno.errors.ConnectionRefused) {
        throw new TunnelError(`${where} refused the connection (direct)`, "refused");
      }
      throw new TunnelError(
        `${where} is unreachable (direct): ${(error as Error).message}`,
        "unreachable",
      );
    } finally {
      clearTimeout(timer);
    }
  }
}
