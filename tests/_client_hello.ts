/**
 * A TLS ClientHello read from its bytes, and its JA3 and JA4 digests: what a passive observer
 * fingerprints. GREASE values (RFC 8701) are left out, as JA3 and JA4 do.
 */
import { createHash } from "node:crypto";

/** The fields of a ClientHello that fingerprints are made of. */
export interface ClientHello {
  /** legacy_version of the hello (0x0303 for TLS 1.2 and 1.3). */
  version: number;
  ciphers: number[];
  /** Extension types in the order sent. */
  extensions: number[];
  groups: number[];
  pointFormats: number[];
  signatureAlgorithms: number[];
  /** Offered ALPN protocols, in order. */
  alpn: string[];
  /** supported_versions, highest first as sent. */
  versions: number[];
  sni: string | undefined;
}

const isGrease = (v: number) => (v & 0x0f0f) === 0x0a0a && (v >> 8) === (v & 0xff);

/**
 * Reads the ClientHello from the first TLS record(s) a client sent; null while incomplete.
 *
 * @throws {Error} when the bytes are not a TLS handshake record holding a ClientHello
 */
export function parseClientHello(bytes: Uint8Array): ClientHello | null {
  if (bytes.length < 9) return null;
  if (bytes[0] !== 0x16) throw new Error(`not a TLS handshake record (type ${bytes[0]})`);
  const recordLength = (bytes[3]! << 8) | bytes[4]!;
  if (bytes.length < 5 + recordLength) return null;
  const body = bytes.subarray(5, 5 + recordLength);
  if (body[0] !== 0x01) throw new Error("the first handshake message is not a ClientHello");
  const view = new DataView(body.buffer, body.byteOffset, body.byteLength);
  let at = 4;
  const u8 = () => {
    const v = body[at++];
    if (v === undefined) throw new Error("the ClientHello ends inside a field");
    return v;
  };
  const u16 = () => {
    const v = view.getUint16(at);
    at += 2;
    return v;
  };
  const list16 = (end: number) => {
    const out: number[] = [];
    while (at < end) out.push(u16());
    return out;
  };
  const version = u16();
  at += 32; // random
  const sessionId = u8();
  at += sessionId;
  const cipherEnd = u16() + at;
  const ciphers = list16(cipherEnd);
  const compressions = u8(); // then one byte per compression method
  at += compressions;
  const hello: ClientHello = {
    version,
    ciphers,
    extensions: [],
    groups: [],
    pointFormats: [],
    signatureAlgorithms: [],
    alpn: [],
    versions: [],
    sni: undefined,
  };
  if (at >= body.length) return hello;
  const extensionsEnd = u16() + at;
  while (at < extensionsEnd) {
    const type = u16();
    const end = u16() + at;
    hello.extensions.push(type);
    if (type === 0x0a) (at += 2, hello.groups = list16(end));
    else if (type === 0x0b) hello.pointFormats = [...body.subarray(at + 1, end)];
    else if (type === 0x0d) (at += 2, hello.signatureAlgorithms = list16(end));
    else if (type === 0x2b) (at += 1, hello.versions = list16(end));
    else if (type === 0x10) {
      at += 2;
      while (at < end) {
        const n = u8();
        hello.alpn.push(new TextDecoder().decode(body.subarray(at, at + n)));
        at += n;
      }
    } else if (type === 0x00 && end - at > 5) {
      hello.sni = new TextDecoder().decode(body.subarray(at + 5, end));
    }
    at = end;
  }
  return hello;
}

/** The JA3 string (`version,ciphers,extensions,groups,point formats`) and its MD5. */
export function ja3(hello: ClientHello): { text: string; md5: string } {
  const join = (values: number[]) => values.filter((v) => !isGrease(v)).join("-");
  const text = [
    hello.version,
    join(hello.ciphers),
    join(hello.extensions),
    join(hello.groups),
    hello.pointFormats.join("-"),
  ].join(",");
  return { text, md5: createHash("md5").update(text).digest("hex") };
}

/**
 * The JA4 fingerprint (FoxIO's JA4 for TLS over TCP): `t13d1516h2_<ciphers>_<extensions>`, the
 * sorted cipher and extension lists (without SNI and ALPN) hashed to 12 hex digits each.
 */
export function ja4(hello: ClientHello): string {
  const hex4 = (v: number) => v.toString(16).padStart(4, "0");
  const sha12 = (text: string) => createHash("sha256").update(text).digest("hex").slice(0, 12);
  const ciphers = hello.ciphers.filter((v) => !isGrease(v));
  const extensions = hello.extensions.filter((v) => !isGrease(v));
  const top = hello.versions.filter((v) => !isGrease(v)).sort((a, b) => b - a)[0] ??
    hello.version;
  const version = { 0x0304: "13", 0x0303: "12", 0x0302: "11", 0x0301: "10" }[top] ?? "00";
  const alpn = hello.alpn[0] ?? "";
  const a = `t${version}${hello.sni ? "d" : "i"}${
    String(Math.min(ciphers.length, 99)).padStart(2, "0")
  }${String(Math.min(extensions.length, 99)).padStart(2, "0")}${
    alpn ? alpn[0]! + alpn.at(-1) : "00"
  }`;
  const b = sha12(ciphers.map(hex4).sort().join(","));
  const signatures = hello.signatureAlgorithms.filter((v) => !isGrease(v));
  const sortedExtensions = extensions.filter((v) => v !== 0x00 && v !== 0x10).map(hex4).sort();
  const c = sha12(
    sortedExtensions.join(",") +
      (signatures.length ? "_" + signatures.map(hex4).join(",") : ""),
  );
  return `${a}_${b}_${c}`;
}

/**
 * Listens on loopback (`port`, 0 for any) and records the ClientHello of every connection,
 * then closes it.
 *
 * @example const catcher = catchHellos(); … await catcher.next(); catcher.close();
 */
export function catchHellos(port = 0): {
  port: number;
  hellos: ClientHello[];
  next(ms?: number): Promise<ClientHello>;
  close(): void;
} {
  const listener = Deno.listen({ hostname: "127.0.0.1", port });
  const hellos: ClientHello[] = [];
  let taken = 0;
  (async () => {
    for await (const conn of listener) {
      (async () => {
        let bytes = new Uint8Array(0);
        const buffer = new Uint8Array(16_384);
        try {
          for (;;) {
            const n = await conn.read(buffer);
            if (n === null) break;
            bytes = new Uint8Array([...bytes, ...buffer.subarray(0, n)]);
            const hello = parseClientHello(bytes);
            if (hello) {
              hellos.push(hello);
              break;
            }
          }
        } catch {
          // not TLS, or gone: nothing to record
        }
        try {
          conn.close();
        } catch {
          // closed already
        }
      })();
    }
  })().catch(() => {});
  return {
    port: listener.addr.port,
    hellos,
    async next(ms = 10_000) {
      const deadline = performance.now() + ms;
      while (hellos.length <= taken) {
        if (performance.now() > deadline) throw new Error("no ClientHello came");
        await new Promise((r) => setTimeout(r, 20));
      }
      return hellos[taken++]!;
    },
    close: () => listener.close(),
  };
}
