/**
 * The local's configuration: one typed object with one set of defaults, built once by the
 * command line and passed whole to the proxy control and from there to each listener.
 */
import type { Credentials } from "../../protocol/socks5.ts";
import type { RuleSource } from "../tunnel/rule_route.ts";

/**
 * How the local treats its clients and tunnels, fixed for the life of the process: everything
 * but where it listens and which remote and account it uses (the settings, which the
 * dashboard edits).
 */
export interface LocalConfig {
  /** Login required from SOCKS5 and HTTP clients (for sharing on a LAN). */
  clientAuth?: Credentials;
  /** Time allowed for a client's handshake, and for a tunnel's TCP + TLS handshake. */
  handshakeTimeoutMs: number;
  /** Connections with no traffic either way for this long are closed; 0 for never. */
  idleTimeoutMs: number;
  /** Most clients in handshake at once (the oldest make room); 0 for no cap. */
  maxHandshakes: number;
  /**
   * Most TLS connections to the remote kept ready, each for one client; 0 for none. The pool
   * keeps as many as recent bursts needed, at most this and 32 (`tunnel_pool.ts`).
   */
  preconnect: number;
  /**
   * Most Mux.Cool tunnels the app connections share (`--mux N`, `tunnel/mux_route.ts`); 0: a
   * tunnel of its own for each connection.
   */
  mux: number;
  /**
   * The routing rules (`--rules`, `--direct-country`), read at each decision so a reload
   * applies to the next connection; absent: everything through the remote.
   */
  rules?: RuleSource;
}

/**
 * The defaults of {@linkcode LocalConfig}, which the command line's options also show.
 *
 * @example const config: LocalConfig = { ...LOCAL_DEFAULTS, preconnect: 0 };
 */
export const LOCAL_DEFAULTS: Readonly<LocalConfig> = {
  handshakeTimeoutMs: 10_000,
  idleTimeoutMs: 300_000,
  maxHandshakes: 1024,
  preconnect: 32,
  mux: 0,
};
