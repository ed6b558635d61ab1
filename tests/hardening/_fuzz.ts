/**
 * The parser fuzzer: random and mutated inputs through the SOCKS5, HTTP and Trojan codecs.
 * A codec may return a value, return null (needs more bytes) or throw its own ProtocolError;
 * anything else, a `consumed` outside the input, or a slow input is a finding.
 */
import { ProtocolError } from "../../lib/protocol/errors.ts";
import type { Decoded } from "../../lib/protocol/errors.ts";
import { decodeGreeting, decodeRequest, decodeUserPass } from "../../lib/protocol/socks5.ts";
import {
  decodeRequestHead,
  decodeResponseHead,
  proxyTarget,
  withoutHopByHop,
} from "../../lib/protocol/http_proxy.ts";
import { BodyFramer, requestFraming, responseFraming } from "../../lib/protocol/http_body.ts";
import { decodeTrojanHeader, encodeTrojanHeader, trojanToken } from "../../lib/protocol/trojan.ts";
import { decodeAddress } from "../../lib/protocol/address.ts";
import { decodeSocksDatagram, encodeSocksDatagram } from "../../lib/protocol/socks5_udp.ts";
import { decodeTrojanFrame, encodeTrojanFrame } from "../../lib/protocol/trojan_udp.ts";

const text = (s: string) => new TextEncoder().encode(s);
const TOKEN = trojanToken("alice:secret");

/** The groups of codecs fuzzed, each with its seeds and its target. */
type Group = "socks" | "http" | "udp" | "trojan";

/** Valid inputs the mutator starts from, per target. */
export const SEEDS: Record<Group, Uint8Array[]> = {
  socks: [
    Uint8Array.of(5, 1, 0),
    Uint8Array.of(5, 2, 0, 2),
    Uint8Array.of(1, 5, 0x61, 0x6c, 0x69, 0x63, 0x65, 3, 0x70, 0x77, 0x64),
    Uint8Array.of(5, 1, 0, 1, 127, 0, 0, 1, 0, 80),
    Uint8Array.of(5, 1, 0, 3, 11, ...text("example.org"), 1, 187),
    Uint8Array.of(5, 1, 0, 4, ...new Array(15).fill(0), 1, 0, 80),
  ],
  http: [
    text("CONNECT example.org:443 HTTP/1.1\r\nHost: example.org:443\r\n\r\n"),
    text(
      "GET http://example.org/a?b=c HTTP/1.1\r\nHost: example.org\r\nConnection: keep-alive\r\n\r\n",
    ),
    text(
      "POST http://[::1]:8080/x HTTP/1.1\r\nHost: [::1]:8080\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n",
    ),
    text("HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello"),
    text("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3;x=y\r\nabc\r\n0\r\nT: 1\r\n\r\n"),
  ],
  udp: [
    encodeSocksDatagram({ host: "127.0.0.1", port: 53 }, text("query")),
    encodeSocksDatagram({ host: "example.org", port: 443 }, new Uint8Array(1200)),
    Uint8Array.of(
      ...encodeTrojanFrame({ host: "::1", port: 53 }, text("query")),
      ...encodeTrojanFrame({ host: "example.org", port: 443 }, new Uint8Array(300)),
    ),
  ],
  trojan: [
    encodeTrojanHeader({
      token: TOKEN,
      command: 1,
      destination: { host: "example.org", port: 443 },
    }),
    encodeTrojanHeader(
      { token: TOKEN, command: 1, destination: { host: "127.0.0.1", port: 80 } },
      text("GET / HTTP/1.1\r\n\r\n"),
    ),
    encodeTrojanHeader({ token: TOKEN, command: 3, destination: { host: "::1", port: 53 } }),
  ],
};

type Target = (bytes: Uint8Array) => void;

function checkDecoded<T>(bytes: Uint8Array, decoded: Decoded<T> | null): Decoded<T> | null {
  if (decoded && !(decoded.consumed > 0 && decoded.consumed <= bytes.length)) {
    throw new Error(`consumed ${decoded.consumed} of ${bytes.length} bytes`);
  }
  return decoded;
}

function feedBody(framer: BodyFramer, bytes: Uint8Array): void {
  let rest = bytes;
  while (rest.length > 0 && !framer.done) {
    const used = framer.feed(rest);
    if (used < 0 || used > rest.length) throw new Error(`body framer took ${used}`);
    if (used === 0) break;
    rest = rest.subarray(used);
  }
}

/** The code under test for each group: every codec a hostile peer's bytes reach. */
export const TARGETS: Record<Group, Target> = {
  socks(bytes) {
    checkDecoded(bytes, decodeGreeting(bytes));
    checkDecoded(bytes, decodeUserPass(bytes));
    checkDecoded(bytes, decodeRequest(bytes));
    checkDecoded(bytes, decodeAddress(bytes));
  },
  http(bytes) {
    const guarded = (run: () => void) => {
      try {
        run();
      } catch (error) {
        if (!(error instanceof ProtocolError)) throw error;
      }
    };
    guarded(() => {
      const head = checkDecoded(bytes, decodeRequestHead(bytes));
      if (!head) return;
      proxyTarget(head.value);
      withoutHopByHop(head.value.headers);
      feedBody(new BodyFramer(requestFraming(head.value.headers)), bytes.subarray(head.consumed));
    });
    guarded(() => {
      const head = checkDecoded(bytes, decodeResponseHead(bytes));
      if (!head) return;
      const framing = responseFraming("GET", head.value.status, head.value.headers);
      feedBody(new BodyFramer(framing), bytes.subarray(head.consumed));
    });
  },
  trojan(bytes) {
    checkDecoded(bytes, decodeTrojanHeader(bytes));
  },
  udp(bytes) {
    try {
      checkDecoded(bytes, decodeSocksDatagram(bytes));
    } catch (error) {
      if (!(error instanceof ProtocolError)) throw error;
    }
    // a tunnel's frames are read one after another, as the remote and the local do
    let rest = bytes;
    for (let decoded; (decoded = checkDecoded(rest, decodeTrojanFrame(rest)));) {
      rest = rest.subarray(decoded.consumed);
    }
  },
};

/** A small, fast, seeded PRNG (xorshift32), so a failing case can be replayed. */
export class Rng {
  #x: number;
  constructor(seed: number) {
    this.#x = seed >>> 0 || 1;
  }
  next(): number {
    let x = this.#x;
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    return (this.#x = x >>> 0);
  }
  below(n: number): number {
    return this.next() % n;
  }
}

const INTERESTING = [0, 1, 3, 4, 5, 0x0a, 0x0d, 0x20, 0x3a, 0x3b, 0x7f, 0x80, 0xfe, 0xff];
const TOKENS = [
  "\r\n",
  "\r\n\r\n",
  ":",
  " ",
  "0",
  "ffffffffffffffff",
  "Content-Length: ",
  "chunked",
]
  .map(text);

/** One input: pure noise, or a valid seed mutated one to eight times. */
export function makeInput(rng: Rng, seeds: Uint8Array[]): Uint8Array {
  if (rng.below(4) === 0) {
    const out = new Uint8Array(rng.below(300));
    for (let i = 0; i < out.length; i++) out[i] = rng.below(256);
    return out;
  }
  let bytes: Uint8Array = seeds[rng.below(seeds.length)]!.slice();
  for (let n = 1 + rng.below(8); n > 0; n--) bytes = mutate(rng, bytes);
  return bytes;
}

function mutate(rng: Rng, bytes: Uint8Array): Uint8Array {
  const at = bytes.length ? rng.below(bytes.length) : 0;
  const splice = (insert: Uint8Array, remove = 0) => {
    const out = new Uint8Array(bytes.length - remove + insert.length);
    out.set(bytes.subarray(0, at));
    out.set(insert, at);
    out.set(bytes.subarray(at + remove), at + insert.length);
    return out;
  };
  switch (rng.below(7)) {
    case 0: // flip a bit
      if (bytes.length) bytes[at]! ^= 1 << rng.below(8);
      return bytes;
    case 1: // an interesting byte
      if (bytes.length) bytes[at] = INTERESTING[rng.below(INTERESTING.length)]!;
      return bytes;
    case 2: // delete a run
      return splice(new Uint8Array(0), Math.min(bytes.length - at, 1 + rng.below(8)));
    case 3: // insert random bytes
      return splice(Uint8Array.from({ length: 1 + rng.below(8) }, () => rng.below(256)));
    case 4: // insert a protocol token
      return splice(TOKENS[rng.below(TOKENS.length)]!);
    case 5: // truncate
      return bytes.subarray(0, at);
    default: // repeat a slice
      return splice(bytes.subarray(at, at + 1 + rng.below(64)));
  }
}

/** What a fuzz run found. */
export interface FuzzReport {
  cases: number;
  slowestMs: number;
  failures: { target: string; input: string; error: string }[];
}

/**
 * Runs `cases` inputs spread over the targets; stops collecting after ten failures.
 * `slowMs` is the per-input budget: an input slower on three runs counts as a failure.
 */
export function fuzz(cases: number, seed = 1, slowMs = 100): FuzzReport {
  const rng = new Rng(seed);
  const names = Object.keys(TARGETS) as Group[];
  const report: FuzzReport = { cases: 0, slowestMs: 0, failures: [] };
  for (let i = 0; i < cases && report.failures.length < 10; i++) {
    const name = names[i % names.length]!;
    const input = makeInput(rng, SEEDS[name]);
    const started = performance.now();
    try {
      TARGETS[name](input);
    } catch (error) {
      if (!(error instanceof ProtocolError)) {
        report.failures.push({ target: name, input: hex(input), error: String(error) });
      }
    }
    let took = performance.now() - started;
    // A pause of the machine (GC, another process) is not the codec's: a slow input is timed
    // twice more, and only one slow every time counts (a quadratic parse stays slow).
    for (let retry = 0; retry < 2 && took > slowMs; retry++) {
      took = Math.min(took, timed(name, input));
    }
    if (took > report.slowestMs) report.slowestMs = took;
    if (took > slowMs) {
      report.failures.push({
        target: name,
        input: hex(input),
        error: `took ${took.toFixed(1)} ms`,
      });
    }
    report.cases++;
  }
  return report;
}

function timed(name: Group, input: Uint8Array): number {
  const started = performance.now();
  try {
    TARGETS[name](input);
  } catch {
    // judged on the first run
  }
  return performance.now() - started;
}

function hex(bytes: Uint8Array): string {
  return Array.from(bytes.subarray(0, 512), (b) => b.toString(16).padStart(2, "0")).join("");
}
