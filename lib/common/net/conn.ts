/**
 * The one connection shape the data path reads and writes through: what `Peer`, the relay and
 * the sessions use of a connection, and nothing more. A `Deno.TcpConn` and a `Deno.TlsConn`
 * have it as they are; the `node:tls` connections (`node_tls_conn.ts`: the remote's accepted
 * ones and the local's tunnels) and a Mux.Cool sub-connection (`lib/common/mux/mux_stream.ts`)
 * implement it.
 */

/**
 * A byte stream both ways, with half-close.
 *
 * @example const peer = new Peer(conn satisfies Conn);
 */
export interface Conn {
  /** Reads into `into`: how many bytes came, or null at the end of the stream. */
  read(into: Uint8Array): Promise<number | null>;
  /** Writes some of `bytes` (maybe not all): how many were taken. */
  write(bytes: Uint8Array): Promise<number>;
  /** Ends the writing direction (TCP FIN, TLS close_notify); reading goes on. */
  closeWrite(): Promise<void>;
  /** Closes both directions. */
  close(): void;
  readonly localAddr: Deno.NetAddr;
  readonly remoteAddr: Deno.NetAddr;
}
