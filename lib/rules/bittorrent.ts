/**
 * BitTorrent recognised by its first bytes, for `serve --block-bittorrent`: the peer handshake
 * that opens a TCP stream (BEP 3), and the UDP datagrams a client cannot work without: DHT
 * messages (BEP 5, bencoded dictionaries), a UDP tracker's connect request (BEP 15) and the
 * packet that opens a uTP connection (BEP 29).
 *
 * Xray's `bittorrent` sniffer (what 3x-ui's switch turns on) matches the same TCP handshake and
 * uTP headers; it has no DHT match, and its uTP timestamp check compares the full microsecond
 * clock with the 32-bit field, so in practice it never matches uTP.
 */

/** `\x13BitTorrent protocol`: the length byte and the protocol name of every peer handshake. */
export const BITTORRENT_HANDSHAKE: Uint8Array = new TextEncoder().encode(
  "\x13BitTorrent protocol",
);

/**
 * Whether a TCP stream that starts with `bytes` is a BitTorrent peer connection: `"yes"`,
 * `"no"`, or `"more"` when `bytes` is a proper prefix of the handshake (so far it could be).
 * Only the first bytes count: a stream that carries the same bytes later is not one.
 *
 * @example bittorrentStream(new TextEncoder().encode("GET / HTTP/1.1\r\n")) // "no"
 */
export function bittorrentStream(bytes: Uint8Array): "yes" | "no" | "more" {
  const n = Math.min(bytes.length, BITTORRENT_HANDSHAKE.length);
  for (let i = 0; i < n; i++) if (bytes[i] !== BITTORRENT_HANDSHAKE[i]) return "no";
  return n === BITTORRENT_HANDSHAKE.length ? "yes" : "more";
}

const ascii = (text: string) => new TextEncoder().encode(text);

/**
 * How DHT messages start. Keys of a bencoded dictionary are sorted, so a query starts with its
 * arguments (`a`), a reply with its values (`r`) or, with BEP 42, with the `ip` key before
 * them, and an error with `e`; each `a` and `r` starts with the sender's 20-byte `id`.
 */
const DHT_PREFIXES = [
  ascii("d1:ad2:id20:"),
  ascii("d1:rd2:id20:"),
  ascii("d1:eli"),
];
/** BEP 42's `ip` key (a 6- or 18-byte compact address) before the reply's `r`. */
const DHT_IP = ascii("d2:ip");
const DHT_AFTER_IP = ascii("1:rd2:id20:");

/** The protocol id that opens every UDP tracker connect request (BEP 15), and its action 0. */
const TRACKER_CONNECT = Uint8Array.of(0, 0, 0x04, 0x17, 0x27, 0x10, 0x19, 0x80, 0, 0, 0, 0);

/** uTP's header size and its ST_SYN type with version 1 in one byte. */
const UTP_HEADER = 20;
const UTP_SYN = 0x41;

function startsWith(bytes: Uint8Array, prefix: Uint8Array, at = 0): boolean {
  if (bytes.length < at + prefix.length) return false;
  for (let i = 0; i < prefix.length; i++) if (bytes[at + i] !== prefix[i]) return false;
  return true;
}

/**
 * Whether a UDP payload is BitTorrent: a DHT message, a UDP tracker connect, or a uTP SYN.
 *
 * uTP is matched by its connection's first packet only (type ST_SYN, version 1, a well-formed
 * chain of extensions, no payload): without it no uTP connection starts, and the header of
 * uTP's other packets (one byte of type and version, one of extension) is common enough among
 * DNS ids and QUIC short headers that matching it would drop their datagrams too.
 *
 * @example isBittorrentDatagram(new TextEncoder().encode("d1:ad2:id20:…")) // true
 */
export function isBittorrentDatagram(payload: Uint8Array): boolean {
  const first = payload[0];
  if (first === 0x64) { // "d"
    for (const prefix of DHT_PREFIXES) if (startsWith(payload, prefix)) return true;
    if (startsWith(payload, DHT_IP)) {
      // d2:ip6:<6 bytes> or d2:ip18:<18 bytes>, then the reply.
      const size = payload[5] === 0x36 && payload[6] === 0x3a
        ? 6
        : payload[5] === 0x31 && payload[6] === 0x38 && payload[7] === 0x3a
        ? 18
        : -1;
      const at = size === 6 ? 7 + 6 : 8 + 18;
      return size > 0 && startsWith(payload, DHT_AFTER_IP, at);
    }
    return false;
  }
  if (first === 0) return startsWith(payload, TRACKER_CONNECT) && payload.length === 16;
  return first === UTP_SYN && isUtpSyn(payload);
}

/** A uTP SYN: the header, each extension complete, and nothing after them. */
function isUtpSyn(payload: Uint8Array): boolean {
  if (payload.length < UTP_HEADER) return false;
  let extension = payload[1]!;
  let at = UTP_HEADER;
  // Extension 1 (selective ack) and 2 (extension bits) are the ones BEP 29 and libutp use.
  while (extension !== 0) {
    if (extension > 2 || at + 2 > payload.length) return false;
    extension = payload[at]!;
    at += 2 + payload[at + 1]!;
  }
  return at === payload.length;
}
