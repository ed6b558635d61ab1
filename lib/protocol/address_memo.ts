/**
 * The last address seen, decoded once: the datagrams of one UDP flow repeat the same address
 * thousands of times a second, and turning its bytes into a host string (or back) took a tenth
 * of a relay's time per datagram.
 */
import { decodeAddress } from "./address.ts";
import type { Destination } from "./address.ts";

/**
 * Decodes encoded addresses (ATYP ADDR PORT), remembering the last one: the same bytes give
 * the same destination object without decoding again. Errors are those of `decodeAddress`.
 *
 * @example const destination = decoder.decode(frame.address);
 */
export class AddressDecoder {
  #bytes: Uint8Array = new Uint8Array(0);
  #value: Destination = { host: "", port: 0 };

  /**
   * @throws {ProtocolError} for an address `decodeAddress` refuses (or that is not whole)
   */
  decode(address: Uint8Array): Destination {
    if (!sameBytes(address, this.#bytes)) {
      const decoded = decodeAddress(address);
      if (!decoded || decoded.consumed !== address.length) {
        throw new RangeError(`expected one whole address, got ${address.length} bytes`);
      }
      this.#value = decoded.value;
      this.#bytes = address.slice();
    }
    return this.#value;
  }
}

function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}
