/**
 * Fetching a subscription for `swiftproxy-local --sub URL`: `https://HOST:PORT/sub/TOKEN`,
 * with `#pcs=HEX` (the SHA-256 of a self-signed certificate, as a link's `pcs`; a fragment is
 * never sent) or without, for a certificate any CA of the system's trusts. The request goes
 * over the same TLS dial as a tunnel (`node_tls_dial.ts`), so a pinned certificate is checked
 * the same way before the token is written.
 */
import { formatHostPort } from "../../protocol/address.ts";
import type { Destination } from "../../protocol/address.ts";
import { normalizePin } from "../../protocol/share_link.ts";
import { ProtocolError } from "../../protocol/errors.ts";
import { VERSION } from "../../version.ts";
import { dialNodeTls } from "./node_tls_dial.ts";
import { pinnedCertificate } from "./pinned_certificate.ts";

/** A subscription URL, read. */
export interface SubscriptionUrl {
  remote: Destination;
  /** The path asked for: `/sub/TOKEN/local`. */
  path: string;
  /** The pin from `#pcs=`, when given. */
  pin?: string;
}

/** The most a subscription answer may hold. */
const MAX_ANSWER = 8 * 1024 * 1024;

/**
 * Reads a subscription URL as `user add` and `user link` print it for the local.
 *
 * @throws {ProtocolError} saying what was expected
 * @example parseSubscriptionUrl("https://vpn.example.org:8443/sub/AbC…#pcs=3f1c…").pin
 */
export function parseSubscriptionUrl(text: string): SubscriptionUrl {
  let url: URL;
  try {
    url = new URL(text.trim());
  } catch {
    throw new ProtocolError(`expected a URL such as https://vpn.example.org:8443/sub/TOKEN`);
  }
  if (url.protocol !== "https:") {
    throw new ProtocolError(`expected an https:// subscription URL, got ${url.protocol}//`);
  }
  const token = /^\/sub\/([^/]+)/.exec(url.pathname)?.[1];
  if (!token) throw new ProtocolError(`expected a path /sub/TOKEN, got "${url.pathname}"`);
  const fragment = new URLSearchParams(url.hash.slice(1));
  const pins = fragment.getAll("pcs");
  if (pins.length > 1) throw new ProtocolError("expected #pcs= at most once");
  // URL leaves out the default port and keeps an IPv6 address's brackets.
  const remote = { host: url.hostname.replace(/^\[(.*)\]$/, "$1"), port: Number(url.port || 443) };
  return {
    remote,
    path: `/sub/${token}/local`,
    ...(pins[0] !== undefined ? { pin: normalizePin(pins[0]) } : {}),
  };
}

/** A subscription answer: the status, the headers (lower-case names) and the body. */
export interface SubscriptionAnswer {
  status: number;
  headers: Map<string, string>;
  body: string;
}

/**
 * `GET` the subscription with the local's User-Agent, trusting the pinned certificate (or, with
 * `caCerts`, those; else the system's roots). The remote answers whole and closes.
 *
 * @throws {Error} when the remote cannot be reached, its certificate is not the pinned one, or
 *   the answer is not HTTP
 * @example const answer = await fetchSubscription(parseSubscriptionUrl(text), 10_000);
 */
export async function fetchSubscription(
  url: SubscriptionUrl,
  timeoutMs: number,
  caCerts?: string[],
): Promise<SubscriptionAnswer> {
  const { remote, pin } = url;
  const serverName = remote.host;
  const trust = pin
    ? { caCerts: [await pinnedCertificate(remote, serverName, pin, timeoutMs)], pin }
    : { caCerts };
  const signal = AbortSignal.timeout(timeoutMs);
  const conn = await dialNodeTls(remote.host, remote.port, serverName, trust, signal);
  try {
    const request = [
      `GET ${url.path} HTTP/1.1`,
      `Host: ${formatHostPort(remote)}`,
      `User-Agent: swiftproxy-local/${VERSION}`,
      "Accept: application/json",
      "Connection: close",
      "",
      "",
    ].join("\r\n");
    await conn.write(new TextEncoder().encode(request));
    const chunks: Uint8Array[] = [];
    let size = 0;
    const timer = setTimeout(() => conn.close(), timeoutMs);
    try {
      const buffer = new Uint8Array(64 * 1024);
      for (;;) {
        const n = await conn.read(buffer).catch(() => null);
        if (n === null) break;
        chunks.push(buffer.slice(0, n));
        if ((size += n) > MAX_ANSWER) {
          throw new Error(`the answer is larger than ${MAX_ANSWER} bytes`);
        }
      }
    } finally {
      clearTimeout(timer);
    }
    const bytes = new Uint8Array(size);
    let at = 0;
    for (const chunk of chunks) bytes.set(chunk, (at += chunk.length) - chunk.length);
    return parseAnswer(bytes);
  } finally {
    try {
      conn.close();
    } catch {
      // closed already
    }
  }
}

/** An HTTP/1.1 answer read to its end: the body by Content-Length, else to the close. */
function parseAnswer(bytes: Uint8Array): SubscriptionAnswer {
  const text = new TextDecoder().decode(bytes);
  const end = text.indexOf("\r\n\r\n");
  if (end < 0) {
    throw new Error(
      bytes.length === 0
        ? "the remote closed without an answer (a wrong or revoked subscription URL?)"
        : "the answer is not HTTP",
    );
  }
  const [statusLine = "", ...lines] = text.slice(0, end).split("\r\n");
  const status = Number(/^HTTP\/1\.[01] (\d{3})/.exec(statusLine)?.[1]);
  if (!status) throw new Error(`the answer is not HTTP: "${statusLine.slice(0, 80)}"`);
  const headers = new Map<string, string>();
  for (const line of lines) {
    const colon = line.indexOf(":");
    if (colon > 0) {
      headers.set(line.slice(0, colon).trim().toLowerCase(), line.slice(colon + 1).trim());
    }
  }
  if (headers.get("transfer-encoding")) {
    throw new Error("expected a body without Transfer-Encoding");
  }
  const headBytes = new TextEncoder().encode(text.slice(0, end + 4)).length;
  const length = headers.has("content-length") ? Number(headers.get("content-length")) : Infinity;
  const body = new TextDecoder().decode(bytes.subarray(headBytes, headBytes + length));
  return { status, headers, body };
}
