/**
 * HTTP/1.1 message body framing (RFC 9112 §6): finds where a body ends in a byte stream
 * without changing it, so a proxy can relay bodies as they come and reuse the connection.
 */
import type { Header } from "./http_proxy.ts";
import { ProtocolError } from "./errors.ts";

/** How a body's end is known. */
export type Framing =
  | { kind: "none" }
  | { kind: "length"; length: number }
  | { kind: "chunked" }
  | { kind: "close" };

/**
 * The framing of a request body: chunked, Content-Length, or none.
 *
 * @throws {ProtocolError} with status 400 for a bad Content-Length or an unknown encoding
 */
export function requestFraming(headers: Header[]): Framing {
  return framing(headers, { kind: "none" }, 400);
}

/** The framing of a response body to `method` with `status` (RFC 9112 §6.3). */
export function responseFraming(method: string, status: number, headers: Header[]): Framing {
  if (method === "HEAD" || (status >= 100 && status < 200) || status === 204 || status === 304) {
    return { kind: "none" };
  }
  return framing(headers, { kind: "close" }, 502);
}

function framing(headers: Header[], otherwise: Framing, status: number): Framing {
  const values = (name: string) =>
    headers.filter(([n]) => n.toLowerCase() === name).flatMap(([, v]) => v.split(","))
      .map((v) => v.trim());
  const encodings = values("transfer-encoding").filter(Boolean);
  const lengths = [...new Set(values("content-length"))];
  if (encodings.length === 0 && headers.some(([n]) => n.toLowerCase() === "transfer-encoding")) {
    throw new ProtocolError("expected a transfer coding, got an empty Transfer-Encoding", status);
  }
  if (encodings.length > 0) {
    // Both framings at once is how requests are smuggled past proxies (RFC 9112 §6.1).
    if (lengths.length > 0 && otherwise.kind === "none") {
      throw new ProtocolError("expected Transfer-Encoding or Content-Length, got both", status);
    }
    if (encodings.at(-1)!.toLowerCase() === "chunked") return { kind: "chunked" };
    if (otherwise.kind === "close") return otherwise;
    throw new ProtocolError(
      `expected chunked as the final transfer coding, got "${encodings.join(", ")}"`,
      status,
    );
  }
  if (lengths.length > 1) {
    throw new ProtocolError(`expected one Content-Length, got ${lengths.join(" and ")}`, status);
  }
  const length = lengths[0];
  if (length !== undefined) {
    if (!/^\d{1,15}$/.test(length)) {
      throw new ProtocolError(`expected a decimal Content-Length, got "${length}"`, status);
    }
    return Number(length) === 0 ? { kind: "none" } : { kind: "length", length: Number(length) };
  }
  return otherwise;
}

const enum State {
  Size,
  SizeLf,
  Data,
  DataCr,
  DataLf,
  Trailer,
  TrailerLf,
  Done,
}

/** Tracks one body through the stream: feed it bytes, it says how many belong to the body. */
export class BodyFramer {
  #framing: Framing;
  #remaining: number;
  #state = State.Size;
  #sizeDigits = 0;
  #inExtension = false;
  #lineLength = 0;

  constructor(framing: Framing) {
    this.#framing = framing;
    this.#remaining = framing.kind === "length" ? framing.length : 0;
    if (framing.kind === "none") this.#state = State.Done;
  }

  /** True once the whole body has been fed (never for close-delimited bodies). */
  get done(): boolean {
    return this.#state === State.Done;
  }

  /**
   * Consumes the prefix of `bytes` that belongs to the body and returns its length.
   *
   * @throws {ProtocolError} for malformed chunked framing
   */
  feed(bytes: Uint8Array): number {
    switch (this.#framing.kind) {
      case "none":
        return 0;
      case "close":
        return bytes.length;
      case "length": {
        const take = Math.min(this.#remaining, bytes.length);
        this.#remaining -= take;
        if (this.#remaining === 0) this.#state = State.Done;
        return take;
      }
      case "chunked":
        return this.#feedChunked(bytes);
    }
  }

  #feedChunked(bytes: Uint8Array): number {
    let i = 0;
    while (i < bytes.length && this.#state !== State.Done) {
      const c = bytes[i]!;
      switch (this.#state) {
        case State.Size:
          if (c === 0x0d) {
            if (this.#sizeDigits === 0) throw new ProtocolError("expected a chunk size", 400);
            this.#state = State.SizeLf;
          } else if (this.#inExtension) {
            // Extensions pass through unread, but a bare LF ends the line for LF-tolerant
            // recipients: the framing would differ (RFC 9112 §7.1.1).
            if (c === 0x0a || c === 0x00) {
              throw new ProtocolError("expected no LF or NUL in a chunk extension", 400);
            }
          } else if (c === 0x3b || c === 0x20 || c === 0x09) {
            this.#inExtension = true;
          } else {
            const digit = hexDigit(c);
            if (digit < 0 || this.#sizeDigits >= 12) {
              throw new ProtocolError(`expected a hex chunk size, got byte ${c}`, 400);
            }
            this.#remaining = this.#remaining * 16 + digit;
            this.#sizeDigits++;
          }
          i++;
          break;
        case State.SizeLf:
          if (c !== 0x0a) throw new ProtocolError("expected LF after the chunk size", 400);
          i++;
          this.#sizeDigits = 0;
          this.#inExtension = false;
          this.#state = this.#remaining === 0 ? State.Trailer : State.Data;
          this.#lineLength = 0;
          break;
        case State.Data: {
          const take = Math.min(this.#remaining, bytes.length - i);
          i += take;
          this.#remaining -= take;
          if (this.#remaining === 0) this.#state = State.DataCr;
          break;
        }
        case State.DataCr:
          if (c !== 0x0d) throw new ProtocolError("expected CRLF after chunk data", 400);
          i++;
          this.#state = State.DataLf;
          break;
        case State.DataLf:
          if (c !== 0x0a) throw new ProtocolError("expected CRLF after chunk data", 400);
          i++;
          this.#state = State.Size;
          break;
        case State.Trailer:
          if (c === 0x0a || c === 0x00) {
            throw new ProtocolError("expected no bare LF or NUL in the trailer", 400);
          }
          i++;
          if (c === 0x0d) this.#state = State.TrailerLf;
          else this.#lineLength++;
          break;
        case State.TrailerLf:
          if (c !== 0x0a) throw new ProtocolError("expected LF in the trailer", 400);
          i++;
          if (this.#lineLength === 0) this.#state = State.Done;
          else {
            this.#lineLength = 0;
            this.#state = State.Trailer;
          }
          break;
      }
    }
    return i;
  }
}

function hexDigit(c: number): number {
  if (c >= 0x30 && c <= 0x39) return c - 0x30;
  if (c >= 0x61 && c <= 0x66) return c - 0x57;
  if (c >= 0x41 && c <= 0x46) return c - 0x37;
  return -1;
}
