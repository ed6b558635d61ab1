/**
 * HTTP/1.x message heads for the proxy: request heads from clients (CONNECT and
 * absolute-form), response heads from origins, and the hop-by-hop header rules of RFC 9110 §7.6.1.
 */
import { parseHostPort } from "./address.ts";
import type { Destination } from "./address.ts";
import { ProtocolError } from "./errors.ts";
import type { Decoded } from "./errors.ts";

/** Largest request or response head accepted, like common servers' defaults. */
export const MAX_HEAD_BYTES = 64 * 1024;

/** One header as it came: original name case and value. */
export type Header = [name: string, value: string];

/** A parsed request head. */
export interface RequestHead {
  method: string;
  target: string;
  version: string;
  headers: Header[];
}

/** A parsed response head. */
export interface ResponseHead {
  version: string;
  status: number;
  reason: string;
  headers: Header[];
}

const TOKEN = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;
/** CR, LF and NUL have no place inside a field or start line (RFC 9110 §5.5, RFC 9112 §2.2). */
const FORBIDDEN = /[\r\n\0]/;

function findHeadEnd(bytes: Uint8Array): number {
  for (let i = 3; i < bytes.length; i++) {
    if (
      bytes[i] === 0x0a && bytes[i - 1] === 0x0d && bytes[i - 2] === 0x0a && bytes[i - 3] === 0x0d
    ) return i + 1;
  }
  return -1;
}

function splitHead(
  bytes: Uint8Array,
  status: number,
  maxBytes = MAX_HEAD_BYTES,
): Decoded<[string, Header[]]> | null {
  const end = findHeadEnd(bytes);
  if ((end < 0 ? bytes.length : end) > maxBytes) {
    throw new ProtocolError(`expected a head under ${maxBytes} bytes`, 431);
  }
  if (end < 0) return null;
  // Byte-for-byte (ISO-8859-1), so header values pass through unchanged.
  const text = String.fromCharCode(...bytes.subarray(0, end - 4));
  // split returns at least one string: the default never applies.
  const [first = "", ...lines] = text.split("\r\n");
  for (const line of [first, ...lines]) {
    // A bare LF splits the line for LF-tolerant recipients: a header smuggled past this one.
    if (FORBIDDEN.test(line)) {
      throw new ProtocolError(
        `expected no CR, LF or NUL inside a line, got ${JSON.stringify(line.slice(0, 60))}`,
        status,
      );
    }
  }
  const headers: Header[] = lines.map((line) => {
    const colon = line.indexOf(":");
    const name = line.slice(0, colon);
    if (colon <= 0 || !TOKEN.test(name)) {
      throw new ProtocolError(`expected "Name: value", got "${line.slice(0, 40)}"`, status);
    }
    return [name, line.slice(colon + 1).trim()];
  });
  return { value: [first, headers], consumed: end };
}

/**
 * Decodes a request head ending in CRLF CRLF; `null` while more bytes are needed.
 *
 * @param maxBytes the longest head accepted (64 KiB unless a server wants less)
 * @throws {ProtocolError} with status 400 for a malformed head (a CR, LF or NUL inside a line
 *   included), 431 for one over `maxBytes`
 * @example peer.readFrame((bytes) => decodeRequestHead(bytes, 8192), timeoutMs)
 */
export function decodeRequestHead(
  bytes: Uint8Array,
  maxBytes: number = MAX_HEAD_BYTES,
): Decoded<RequestHead> | null {
  const split = splitHead(bytes, 400, maxBytes);
  if (!split) return null;
  const [line, headers] = split.value;
  const match = /^([!#$%&'*+\-.^_`|~0-9A-Za-z]+) (\S+) (HTTP\/1\.[01])$/.exec(line);
  if (!match) throw new ProtocolError(`expected "METHOD target HTTP/1.x", got "${line}"`, 400);
  return {
    value: { method: match[1]!, target: match[2]!, version: match[3]!, headers },
    consumed: split.consumed,
  };
}

/**
 * Decodes a response head; `null` while more bytes are needed.
 *
 * @throws {ProtocolError} with status 502 for a malformed head (a CR, LF or NUL inside a line
 *   included)
 */
export function decodeResponseHead(bytes: Uint8Array): Decoded<ResponseHead> | null {
  const split = splitHead(bytes, 502);
  if (!split) return null;
  const [line, headers] = split.value;
  const match = /^(HTTP\/1\.[01]) (\d{3})(?: (.*))?$/.exec(line);
  if (!match) throw new ProtocolError(`expected "HTTP/1.x status reason", got "${line}"`, 502);
  return {
    value: { version: match[1]!, status: Number(match[2]), reason: match[3] ?? "", headers },
    consumed: split.consumed,
  };
}

/** The value of the first header named `name` (case-insensitive), if any. */
export function headerValue(headers: Header[], name: string): string | undefined {
  const lower = name.toLowerCase();
  return headers.find(([n]) => n.toLowerCase() === lower)?.[1];
}

/** Where a request goes and what to send there. */
export interface ProxyTarget {
  destination: Destination;
  /** The request target in origin-form (`/path?query`); empty for CONNECT. */
  path: string;
}

/**
 * Resolves a proxy request's destination: `CONNECT host:port` or an absolute `http://` URL.
 *
 * @throws {ProtocolError} with status 400 for anything else (origin-form, other schemes)
 */
export function proxyTarget(head: RequestHead): ProxyTarget {
  if (head.method === "CONNECT") {
    try {
      return { destination: parseHostPort(head.target), path: "" };
    } catch {
      throw new ProtocolError(`expected CONNECT host:port, got "${head.target}"`, 400);
    }
  }
  let url: URL;
  try {
    url = new URL(head.target);
  } catch {
    throw new ProtocolError(`expected an absolute http:// URL, got "${head.target}"`, 400);
  }
  if (url.protocol !== "http:") {
    throw new ProtocolError(`expected an http:// URL, got the scheme "${url.protocol}"`, 400);
  }
  const host = url.hostname.startsWith("[") ? url.hostname.slice(1, -1) : url.hostname;
  return {
    destination: { host, port: Number(url.port || 80) },
    path: `${url.pathname}${url.search}`,
  };
}

const HOP_BY_HOP = new Set([
  "connection",
  "keep-alive",
  "proxy-connection",
  "proxy-authenticate",
  "proxy-authorization",
  "te",
  "trailer",
  "upgrade",
]);

/**
 * Drops hop-by-hop headers, and those the `Connection` header names. `Transfer-Encoding` stays:
 * the body is relayed as it came, so its framing must travel with it.
 */
export function withoutHopByHop(headers: Header[]): Header[] {
  const named = new Set(
    headers.filter(([n]) =>
      n.toLowerCase() === "connection" || n.toLowerCase() === "proxy-connection"
    )
      .flatMap(([, v]) => v.split(",").map((t) => t.trim().toLowerCase())),
  );
  named.delete("transfer-encoding");
  return headers.filter(([n]) => !HOP_BY_HOP.has(n.toLowerCase()) && !named.has(n.toLowerCase()));
}

/** Encodes a request head in origin-form for the destination. */
export function encodeRequestHead(head: RequestHead): Uint8Array {
  const lines = [`${head.method} ${head.target} ${head.version}`];
  for (const [name, value] of head.headers) lines.push(`${name}: ${value}`);
  return latin1(lines.join("\r\n") + "\r\n\r\n");
}

/** Encodes a response head for the client. */
export function encodeResponseHead(head: ResponseHead): Uint8Array {
  const lines = [`${head.version} ${head.status} ${head.reason}`];
  for (const [name, value] of head.headers) lines.push(`${name}: ${value}`);
  return latin1(lines.join("\r\n") + "\r\n\r\n");
}

/** A short complete response the proxy itself sends (errors, CONNECT's 200). */
export function simpleResponse(
  status: number,
  reason: string,
  close = true,
  text = `${status} ${reason}\n`,
): Uint8Array {
  // The reason may quote the request: no control byte of it may end the line.
  // deno-lint-ignore no-control-regex
  reason = reason.replace(/[\x00-\x1f\x7f]/g, " ");
  const body = status === 200 ? "" : text;
  const headers = status === 200
    ? ""
    : `Content-Type: text/plain\r\nContent-Length: ${body.length}\r\n${
      close ? "Connection: close\r\n" : ""
    }`;
  return latin1(`HTTP/1.1 ${status} ${reason}\r\n${headers}\r\n${body}`);
}

function latin1(text: string): Uint8Array {
  const out = new Uint8Array(text.length);
  for (let i = 0; i < text.length; i++) out[i] = text.charCodeAt(i) & 0xff;
  return out;
}
