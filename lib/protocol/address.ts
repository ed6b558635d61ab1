import { ProtocolError } from "./errors.ts";
import type { Decoded } from "./errors.ts";

/** A destination as the client named it: an IP literal or a domain, and a port. */
export interface Destination {
  host: string;
  port: number;
}

/** SOCKS5 / Trojan address types (RFC 1928 §5). */
export const ATYP = { ipv4: 0x01, domain: 0x03, ipv6: 0x04 } as const;

const IPV4 = /^(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)(\.(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)){3}$/;

/** True for a dotted-quad IPv4 literal such as `127.0.0.1`. */
export function isIPv4(host: string): boolean {
  return IPV4.test(host);
}

/** True for an IPv6 literal without brackets, such as `::1`. */
export function isIPv6(host: string): boolean {
  return host.includes(":") && parseIPv6(host) !== null;
}

/**
 * Parses `host:port`, `[v6]:port` or `:port` (host defaults to `defaultHost`).
 *
 * @throws {ProtocolError} when the port is missing or out of range, or the brackets are unbalanced
 * @example parseHostPort("[::1]:8443") // { host: "::1", port: 8443 }
 */
export function parseHostPort(text: string, defaultHost = ""): Destination {
  let host: string;
  let portText: string;
  if (text.startsWith("[")) {
    const end = text.indexOf("]");
    if (end < 0 || text[end + 1] !== ":") {
      throw new ProtocolError(`expected [IPv6]:port, got "${text}"`);
    }
    host = text.slice(1, end);
    if (!isIPv6(host)) {
      throw new ProtocolError(`expected an IPv6 address in brackets, got "${host}"`);
    }
    portText = text.slice(end + 2);
  } else {
    const colon = text.lastIndexOf(":");
    if (colon < 0) throw new ProtocolError(`expected host:port, got "${text}"`);
    host = text.slice(0, colon);
    if (host.includes(":")) {
      throw new ProtocolError(`expected brackets around an IPv6 address, got "${text}"`);
    }
    portText = text.slice(colon + 1);
  }
  if (!/^\d{1,5}$/.test(portText) || Number(portText) < 1 || Number(portText) > 65535) {
    throw new ProtocolError(`expected a port from 1 to 65535, got "${portText}" in "${text}"`);
  }
  return { host: host || defaultHost, port: Number(portText) };
}

/** Formats a destination as `host:port`, bracketing IPv6 literals. */
export function formatHostPort({ host, port }: Destination): string {
  return host.includes(":") ? `[${host}]:${port}` : `${host}:${port}`;
}

/**
 * Encodes ATYP + DST.ADDR + DST.PORT as SOCKS5 and Trojan put them on the wire.
 *
 * @throws {ProtocolError} for a domain longer than 255 bytes or a port out of range
 */
export function encodeAddress({ host, port }: Destination): Uint8Array {
  if (!Number.isInteger(port) || port < 0 || port > 65535) {
    throw new ProtocolError(`expected a port from 0 to 65535, got ${port}`);
  }
  let body: Uint8Array;
  if (isIPv4(host)) {
    body = new Uint8Array(5);
    body[0] = ATYP.ipv4;
    let at = 1;
    for (const part of host.split(".")) body[at++] = Number(part);
  } else if (host.includes(":")) {
    const groups = parseIPv6(host);
    if (!groups) throw new ProtocolError(`expected an IPv6 address, got "${host}"`);
    body = new Uint8Array(17);
    body[0] = ATYP.ipv6;
    groups.forEach((g, i) => {
      body[1 + i * 2] = g >> 8;
      body[2 + i * 2] = g & 0xff;
    });
  } else {
    const name = new TextEncoder().encode(host);
    if (name.length === 0 || name.length > 255) {
      throw new ProtocolError(`expected a domain of 1 to 255 bytes, got ${name.length}`);
    }
    body = new Uint8Array(2 + name.length);
    body[0] = ATYP.domain;
    body[1] = name.length;
    body.set(name, 2);
  }
  const out = new Uint8Array(body.length + 2);
  out.set(body);
  out[body.length] = port >> 8;
  out[body.length + 1] = port & 0xff;
  return out;
}

/**
 * Length of the ATYP + DST.ADDR + DST.PORT starting at `offset`, without decoding it; `null`
 * when more bytes are needed.
 *
 * @throws {ProtocolError} with code 0x08 for an unknown address type, 0x01 for an empty domain
 * @example addressLength(Uint8Array.of(1, 127, 0, 0, 1, 0, 53)) // 7
 */
export function addressLength(bytes: Uint8Array, offset = 0): number | null {
  if (bytes.length <= offset) return null;
  const atyp = bytes[offset];
  let length: number;
  if (atyp === ATYP.ipv4) length = 7;
  else if (atyp === ATYP.ipv6) length = 19;
  else if (atyp === ATYP.domain) {
    if (bytes.length < offset + 2) return null;
    if (bytes[offset + 1] === 0) {
      throw new ProtocolError("expected a domain of 1 to 255 bytes, got 0", 0x01);
    }
    length = 4 + bytes[offset + 1]!;
  } else {
    throw new ProtocolError(`expected address type 1, 3 or 4, got ${atyp}`, 0x08);
  }
  return bytes.length < offset + length ? null : length;
}

/**
 * Decodes ATYP + DST.ADDR + DST.PORT starting at `offset`; `null` when more bytes are needed.
 *
 * @throws {ProtocolError} with code 0x08 for an unknown address type or a domain that is not
 *   UTF-8, 0x01 for an empty domain
 */
export function decodeAddress(bytes: Uint8Array, offset = 0): Decoded<Destination> | null {
  const length = addressLength(bytes, offset);
  if (length === null) return null;
  const portAt = offset + length - 2;
  let host: string;
  if (bytes[offset] === ATYP.ipv4) {
    const at = offset + 1;
    host = `${bytes[at]}.${bytes[at + 1]}.${bytes[at + 2]}.${bytes[at + 3]}`;
  } else if (bytes[offset] === ATYP.ipv6) {
    const groups: number[] = [];
    for (let i = offset + 1; i < portAt; i += 2) groups.push((bytes[i]! << 8) | bytes[i + 1]!);
    host = formatIPv6(groups);
  } else {
    // Not UTF-8: it could not be re-encoded as the same name (U+FFFD takes 3 bytes), and no
    // resolver would find it. Refused here, before the local takes a tunnel for it.
    try {
      host = STRICT_UTF8.decode(bytes.subarray(offset + 2, portAt));
    } catch {
      throw new ProtocolError("expected a domain in UTF-8, got other bytes", 0x08);
    }
  }
  const port = (bytes[portAt]! << 8) | bytes[portAt + 1]!;
  return { value: { host, port }, consumed: length };
}

const STRICT_UTF8 = new TextDecoder("utf-8", { fatal: true });

/** Parses an IPv6 literal (with `::` and an optional IPv4 tail) into eight 16-bit groups. */
export function parseIPv6(text: string): number[] | null {
  const zone = text.indexOf("%");
  if (zone >= 0) text = text.slice(0, zone);
  let tail: number[] = [];
  const lastColon = text.lastIndexOf(":");
  if (text.slice(lastColon + 1).includes(".")) {
    const v4 = text.slice(lastColon + 1);
    if (!isIPv4(v4)) return null;
    const [a, b, c, d] = v4.split(".").map(Number);
    tail = [(a! << 8) | b!, (c! << 8) | d!];
    text = text.slice(0, lastColon);
    if (text.endsWith(":")) text += ":";
  }
  const halves = text.split("::");
  if (halves.length > 2) return null;
  const parse = (part: string) => part === "" ? [] : part.split(":");
  const head = parse(halves[0]!);
  const rest = halves.length === 2 ? parse(halves[1]!) : [];
  const hex = /^[0-9a-fA-F]{1,4}$/;
  if (![...head, ...rest].every((g) => hex.test(g))) return null;
  const known = head.length + rest.length + tail.length;
  if (halves.length === 1 && known !== 8) return null;
  if (halves.length === 2 && known > 7) return null;
  const zeros = new Array(8 - known).fill(0);
  return [
    ...head.map((g) => parseInt(g, 16)),
    ...zeros,
    ...rest.map((g) => parseInt(g, 16)),
    ...tail,
  ];
}

/** Formats eight 16-bit groups as a canonical IPv6 literal (RFC 5952). */
export function formatIPv6(groups: number[]): string {
  if (groups.slice(0, 5).every((g) => g === 0) && groups[5] === 0xffff) {
    return `::ffff:${groups[6]! >> 8}.${groups[6]! & 0xff}.${groups[7]! >> 8}.${groups[7]! & 0xff}`;
  }
  let bestStart = -1;
  let bestLength = 1;
  for (let i = 0; i < 8;) {
    if (groups[i] !== 0) {
      i++;
      continue;
    }
    let j = i;
    while (j < 8 && groups[j] === 0) j++;
    if (j - i > bestLength) [bestStart, bestLength] = [i, j - i];
    i = j;
  }
  const hex = groups.map((g) => g.toString(16));
  if (bestStart < 0) return hex.join(":");
  return `${hex.slice(0, bestStart).join(":")}::${hex.slice(bestStart + bestLength).join(":")}`;
}
