/**
 * Address ranges as sorted starts in typed arrays, looked up by binary search: the IP rules
 * (`IP-CIDR`, where ranges may overlap and the first rule wins) and the GeoIP database (where
 * they do not) share it.
 */
import { type Cidr, ipBytes } from "../common/security/cidr.ts";

/** An address ready for lookups: IPv4 as one 32-bit word, IPv6 as four. */
export interface IpKey {
  v4: boolean;
  words: Uint32Array;
}

/**
 * The key of an IP literal; an IPv4-mapped IPv6 address (`::ffff:1.2.3.4`) is its IPv4 one.
 * Null for anything that is not an address.
 *
 * @example ipKey("10.1.2.3") // { v4: true, words: [0x0a010203] }
 */
export function ipKey(ip: string): IpKey | null {
  const word = ipv4Word(ip);
  if (word >= 0) return { v4: true, words: Uint32Array.of(word) };
  const six = new Uint32Array(4);
  if (ipv6Words(ip, six, 0) && !(six[0] === 0 && six[1] === 0 && six[2] === 0xffff)) {
    return { v4: false, words: six };
  }
  const bytes = ipBytes(ip.startsWith("[") && ip.endsWith("]") ? ip.slice(1, -1) : ip);
  if (!bytes) return null;
  const view = new DataView(bytes.buffer);
  const words = Uint32Array.of(
    view.getUint32(0),
    view.getUint32(4),
    view.getUint32(8),
    view.getUint32(12),
  );
  const v4 = words[0] === 0 && words[1] === 0 && words[2] === 0xffff;
  return { v4, words: v4 ? words.subarray(3) : words };
}

/** A dotted-quad IPv4 address as a number, or -1 (without allocating: most keys are IPv4). */
function ipv4Word(ip: string): number {
  let word = 0, part = 0, digits = 0, dots = 0;
  for (let i = 0; i < ip.length; i++) {
    const c = ip.charCodeAt(i);
    if (c === 46) {
      if (digits === 0 || ++dots > 3) return -1;
      word = word * 256 + part;
      part = digits = 0;
    } else if (c >= 48 && c <= 57 && digits < 3) {
      if (digits === 1 && part === 0) return -1; // a leading zero: not the dotted decimal form
      part = part * 10 + c - 48;
      digits++;
      if (part > 255) return -1;
    } else return -1;
  }
  return dots === 3 && digits > 0 ? word * 256 + part : -1;
}

const groups = new Uint16Array(8);

/**
 * Writes IPv6 text (hex groups, at most one `::`; no dotted IPv4 tail) as four words at
 * `out[at]`, without allocating; false if it is not such an address.
 */
export function ipv6Words(text: string, out: Uint32Array, at: number): boolean {
  const gap = text.indexOf("::");
  let n: number;
  if (gap < 0) n = hexGroups(text, 0, text.length, 0);
  else {
    if (text.indexOf("::", gap + 1) >= 0) return false;
    const head = hexGroups(text, 0, gap, 0);
    const tail = head < 0 ? -1 : hexGroups(text, gap + 2, text.length, head);
    if (tail < 0 || head + tail > 7) return false;
    groups.copyWithin(8 - tail, head, head + tail);
    groups.fill(0, head, 8 - tail);
    n = 8;
  }
  if (n !== 8) return false;
  for (let k = 0; k < 4; k++) out[at + k] = ((groups[2 * k]! << 16) | groups[2 * k + 1]!) >>> 0;
  return true;
}

/** Parses `text[from..to]`, groups of 1–4 hex digits between single colons, into `groups` from
 * `first` on; the number of groups, or -1. An empty span is no group. */
function hexGroups(text: string, from: number, to: number, first: number): number {
  if (from === to) return 0;
  let n = first, value = 0, digits = 0;
  for (let i = from; i <= to; i++) {
    const c = i < to ? text.charCodeAt(i) : 58;
    if (c === 58) {
      if (digits === 0 || n === 8) return -1;
      groups[n++] = value;
      value = digits = 0;
      continue;
    }
    const lower = c | 32;
    const hex = c >= 48 && c <= 57 ? c - 48 : lower >= 97 && lower <= 102 ? lower - 87 : -1;
    if (hex < 0 || ++digits > 4) return -1;
    value = (value << 4) | hex;
  }
  return n - first;
}

/**
 * Each family's ranges as the sorted starts of consecutive intervals and the value of each
 * (-1: none): the value of an address is that of the last start at or below it.
 */
export class RangeTable {
  /**
   * @param v4Starts ascending IPv4 starts, one word each
   * @param v4Values the value from each start on
   * @param v6Starts ascending IPv6 starts, four words each
   * @param v6Values the value from each start on
   */
  constructor(
    readonly v4Starts: Uint32Array,
    readonly v4Values: Int32Array,
    readonly v6Starts: Uint32Array,
    readonly v6Values: Int32Array,
  ) {}

  /** Bytes held by the arrays. */
  get byteLength(): number {
    return this.v4Starts.byteLength + this.v4Values.byteLength + this.v6Starts.byteLength +
      this.v6Values.byteLength;
  }

  /** The value of the address, or -1. */
  lookup(key: IpKey): number {
    if (key.v4) {
      const starts = this.v4Starts;
      const probe = key.words[0]!;
      let lo = 0, hi = starts.length - 1, found = -1;
      while (lo <= hi) {
        const mid = (lo + hi) >>> 1;
        if (starts[mid]! <= probe) (found = mid), (lo = mid + 1);
        else hi = mid - 1;
      }
      return found < 0 ? -1 : this.v4Values[found]!;
    }
    const starts = this.v6Starts, w = key.words;
    let lo = 0, hi = starts.length / 4 - 1, found = -1;
    while (lo <= hi) {
      const mid = (lo + hi) >>> 1;
      if (compare6(starts, mid * 4, w) <= 0) (found = mid), (lo = mid + 1);
      else hi = mid - 1;
    }
    return found < 0 ? -1 : this.v6Values[found]!;
  }
}

/** The sign of `starts[at..at+4]` minus `w`, word by word. */
function compare6(starts: Uint32Array, at: number, w: Uint32Array): number {
  for (let k = 0; k < 4; k++) {
    const a = starts[at + k]!, b = w[k]!;
    if (a !== b) return a < b ? -1 : 1;
  }
  return 0;
}

interface Span {
  lo: bigint;
  hi: bigint;
  value: number;
}

/**
 * Builds a {@linkcode RangeTable} from ranges that may overlap: where they do, the lowest
 * value wins (a sweep over the ranges' edges with a heap of the open ones).
 *
 * @example
 * ```ts
 * import { parseCidr } from "../common/security/cidr.ts";
 * const b = new RangeTableBuilder();
 * b.add(parseCidr("10.0.0.0/8"), 1);
 * b.add(parseCidr("10.1.0.0/16"), 0);
 * b.build().lookup(ipKey("10.1.2.3")!); // 0
 * ```
 */
export class RangeTableBuilder {
  #v4: Span[] = [];
  #v6: Span[] = [];

  /** Ranges added. */
  get size(): number {
    return this.#v4.length + this.#v6.length;
  }

  /** Adds `cidr` (from `parseCidr`) with `value` (≥ 0). */
  add(cidr: Cidr, value: number): void {
    let lo = 0n;
    for (const byte of cidr.bytes) lo = (lo << 8n) | BigInt(byte);
    const v4 = cidr.prefix >= 96 && lo >> 32n === 0xffffn;
    const bits = v4 ? 32 : 128;
    const prefix = v4 ? cidr.prefix - 96 : cidr.prefix;
    if (v4) lo &= 0xffffffffn;
    const hostMask = (1n << BigInt(bits - prefix)) - 1n;
    lo &= ~hostMask;
    (v4 ? this.#v4 : this.#v6).push({ lo, hi: lo | hostMask, value });
  }

  /** The table of what was added. */
  build(): RangeTable {
    const [v4Starts, v4Values] = sweep(this.#v4, 32);
    const [v6Starts, v6Values] = sweep(this.#v6, 128);
    return new RangeTable(v4Starts, v4Values, v6Starts, v6Values);
  }
}

/** Consecutive intervals of `spans`, each with the lowest value covering it. */
function sweep(spans: Span[], bits: 32 | 128): [Uint32Array, Int32Array] {
  const max = (1n << BigInt(bits)) - 1n;
  const edges = new Set<bigint>([0n]);
  for (const s of spans) {
    edges.add(s.lo);
    if (s.hi < max) edges.add(s.hi + 1n);
  }
  const points = [...edges].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
  const byStart = [...spans].sort((a, b) => (a.lo < b.lo ? -1 : a.lo > b.lo ? 1 : 0));
  const open = new MinHeap();
  const starts: bigint[] = [];
  const values: number[] = [];
  let next = 0;
  for (const point of points) {
    while (next < byStart.length && byStart[next]!.lo <= point) open.push(byStart[next++]!);
    while (open.top && open.top.hi < point) open.pop();
    const value = open.top?.value ?? -1;
    if (values.at(-1) !== value) starts.push(point), values.push(value);
  }
  const words = bits === 32 ? 1 : 4;
  const out = new Uint32Array(starts.length * words);
  starts.forEach((start, i) => {
    for (let k = 0; k < words; k++) {
      out[i * words + k] = Number((start >> BigInt(32 * (words - 1 - k))) & 0xffffffffn);
    }
  });
  return [out, Int32Array.from(values)];
}

/** The open spans, lowest value on top. */
class MinHeap {
  #items: Span[] = [];

  get top(): Span | undefined {
    return this.#items[0];
  }

  push(span: Span): void {
    const items = this.#items;
    let i = items.push(span) - 1;
    while (i > 0) {
      const parent = (i - 1) >> 1;
      const above = items[parent]!;
      if (above.value <= span.value) break;
      items[i] = above;
      i = parent;
    }
    items[i] = span;
  }

  pop(): void {
    const items = this.#items;
    const last = items.pop()!;
    if (items.length === 0) return;
    let i = 0;
    for (;;) {
      let child = 2 * i + 1;
      if (child >= items.length) break;
      if (child + 1 < items.length && items[child + 1]!.value < items[child]!.value) child++;
      const below = items[child]!;
      if (below.value >= last.value) break;
      items[i] = below;
      i = child;
    }
    items[i] = last;
  }
}
