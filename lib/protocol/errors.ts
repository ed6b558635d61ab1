/** Thrown by the codecs when bytes on the wire do not follow the protocol. */
export class ProtocolError extends Error {
  /**
   * @param message what was expected and what came
   * @param code a protocol-specific refusal code (a SOCKS5 REP, an HTTP status) for the peer
   */
  constructor(message: string, readonly code?: number) {
    super(message);
    this.name = "ProtocolError";
  }
}

/** Result of an incremental decoder: the value and how many bytes it used. */
export interface Decoded<T> {
  value: T;
  consumed: number;
}
