/**
 * The route the rules choose: each connection is decided by the rule engine (first match
 * wins) and goes through the proxy route it wraps (`PROXY`: the tunnel, or any other proxy
 * route), straight out (`DIRECT`), or nowhere (`REJECT`: a {@linkcode TunnelError} of kind
 * `rejected` naming the rule, which the app's reply turns into SOCKS5 REP 0x02 or HTTP 403).
 */
import { lookup } from "node:dns/promises";
import type { Destination } from "../../protocol/address.ts";
import { type Decision, DEFAULT_DECISION, type Resolve, type RuleEngine } from "../../rules/mod.ts";
import { DirectRoute } from "./direct_route.ts";
import { TunnelError } from "./tunnel.ts";
import type { Route, RouteConn, RouteKind } from "./route.ts";

/** Where the rules in force are read from, at each decision (a reload swaps `engine`). */
export interface RuleSource {
  /** The rules in force; null: none (everything through the proxy route). */
  readonly engine: RuleEngine | null;
}

/**
 * Addresses of a name by the system's resolver (hosts file included), for an IP rule reached
 * by a name; the engine caches them briefly.
 */
export const systemResolve: Resolve = async (name) =>
  (await lookup(name, { all: true })).map((a) => a.address);

/**
 * A {@linkcode Route} that asks the rules for each destination.
 *
 * @example
 * const route = new RuleRoute(rules, new TunnelDialer(endpoint), 10_000);
 * const conn = await route.open({ host: "www.gov.cn", port: 443 }); // conn.via: "direct"
 */
export class RuleRoute implements Route {
  readonly #rules: RuleSource;
  /** Where `PROXY` connections go. */
  readonly proxy: Route;
  readonly #direct: DirectRoute;
  readonly #resolve: Resolve;

  /**
   * @param proxy the route for `PROXY` (the tunnel dialer, a Mux.Cool route)
   * @param timeoutMs time allowed for a direct connection
   */
  constructor(rules: RuleSource, proxy: Route, timeoutMs: number, resolve = systemResolve) {
    this.#rules = rules;
    this.proxy = proxy;
    this.#direct = new DirectRoute(timeoutMs);
    this.#resolve = resolve;
  }

  /**
   * The decision for `destination` (synchronous unless a name must be resolved for an IP rule).
   *
   * @example const { action, rule } = await route.decide({ host: "10.0.0.1", port: 53 }, "udp");
   */
  decide(destination: Destination, network: "tcp" | "udp"): Decision | Promise<Decision> {
    const engine = this.#rules.engine;
    if (!engine) return DEFAULT_DECISION;
    return engine.decide(
      { host: destination.host, port: destination.port, network },
      this.#resolve,
    );
  }

  /**
   * A connection as the rules say. A UDP association is opened on the proxy route (its
   * datagrams are decided one by one, see `udp_associate.ts`).
   *
   * @param decided told the route and the rule as soon as they are known, before the
   *   connection opens or fails (the dashboard's row, the access log)
   * @throws {TunnelError} `rejected` with the rule, or why the chosen route could not open
   */
  async open(
    destination: Destination,
    network: "tcp" | "udp" = "tcp",
    decided?: (via: RouteKind, rule: string) => void,
  ): Promise<RouteConn> {
    if (network === "udp") return await this.proxy.open(destination, network);
    const found = this.decide(destination, network);
    const decision = "action" in found ? found : await found;
    const rule = decision.rule;
    switch (decision.action) {
      case "REJECT":
        decided?.("rejected", rule);
        throw new TunnelError(`refused by the rule ${rule}`, "rejected", rule);
      case "DIRECT":
        decided?.("direct", rule);
        return { ...await this.#direct.open(destination), rule };
      default: {
        decided?.("proxy", rule);
        return { ...await this.proxy.open(destination, network), via: "proxy", rule };
      }
    }
  }
}
