/**
 * The country of an IP address, offline: the ranges of `@ip-location-db/geo-whois-asn-country`
 * (CC0; IPv4 and IPv6, from the registries' WHOIS and ASN data) loaded on first use into a
 * {@linkcode RangeTable}. Only a `GEOIP` rule loads it.
 */
import { type IpKey, ipKey, ipv6Words, RangeTable } from "./range_table.ts";

/** The npm package the data comes from. */
export const GEOIP_PACKAGE = "@ip-location-db/geo-whois-asn-country";
/** The package's files: IPv4 as numbers (`16777216,16777471,AU`), IPv6 as text. */
const V4_FILE = "@ip-location-db/geo-whois-asn-country/geo-whois-asn-country-ipv4-num.csv";
const V6_FILE = "@ip-location-db/geo-whois-asn-country/geo-whois-asn-country-ipv6.csv";
/**
 * The package's files this module reads (the package also has the same data in the other
 * forms, IPv4 as text and IPv6 as numbers, which `deno task compile` leaves out).
 */
export const GEOIP_FILES: readonly string[] = [V4_FILE, V6_FILE];

/** A loaded database. */
export interface GeoIp {
  /** The country code (`US`) of an address, or null when no range holds it. */
  country(ip: string | IpKey): string | null;
  /** The same as a number, {@linkcode countryNumber} of the code, or -1: for rules. */
  countryNumber(key: IpKey): number;
  /** Ranges held (gaps included), IPv4 and IPv6. */
  readonly ranges: number;
  /** Bytes of the tables. */
  readonly byteLength: number;
  /** Milliseconds it took to read and index the files. */
  readonly loadMs: number;
}

/** A two-letter code as the tables keep it. */
export function countryNumber(code: string): number {
  return (code.charCodeAt(0) << 8) | code.charCodeAt(1);
}

let loading: Promise<GeoIp> | undefined;

/**
 * The database, read once per process (later calls share the first one's result).
 *
 * @throws {Error} when the package's files cannot be read
 * @example (await loadGeoIp()).country("8.8.8.8") // "US"
 */
export function loadGeoIp(): Promise<GeoIp> {
  loading ??= load().catch((e) => {
    loading = undefined;
    throw e;
  });
  return loading;
}

async function load(): Promise<GeoIp> {
  const started = performance.now();
  // One file at a time, each indexed and let go before the next is read: the peak holds one.
  const [v4Starts, v4Values] = indexCsv(await readData(V4_FILE), 1, parseV4);
  const [v6Starts, v6Values] = indexCsv(await readData(V6_FILE), 4, parseV6);
  const table = new RangeTable(v4Starts, v4Values, v6Starts, v6Values);
  const loadMs = performance.now() - started;
  return {
    country(ip) {
      const key = typeof ip === "string" ? ipKey(ip) : ip;
      const n = key ? table.lookup(key) : -1;
      return n < 0 ? null : String.fromCharCode(n >> 8, n & 0xff);
    },
    countryNumber: (key) => table.lookup(key),
    ranges: v4Values.length + v6Values.length,
    byteLength: table.byteLength,
    loadMs,
  };
}

/**
 * A data file's bytes. Read from where the module resolves it, so they are freed once indexed;
 * the dynamic import is the fallback and what makes `deno compile` embed the package (it
 * follows imports with a literal specifier; a text import is then kept for the process's life,
 * about 21 MB).
 */
async function readData(file: typeof V4_FILE | typeof V6_FILE): Promise<Uint8Array> {
  try {
    return await Deno.readFile(new URL(import.meta.resolve(file)));
  } catch {
    const module = file === V4_FILE
      ? await import(
        "@ip-location-db/geo-whois-asn-country/geo-whois-asn-country-ipv4-num.csv",
        { with: { type: "text" } }
      )
      : await import(
        "@ip-location-db/geo-whois-asn-country/geo-whois-asn-country-ipv6.csv",
        { with: { type: "text" } }
      );
    return new TextEncoder().encode(module.default);
  }
}

/**
 * Writes the address in `bytes[from, to)` as `width` words at `out[0]`; false if it is not
 * one. Parsed in place: no string per field.
 */
type ParseAddress = (bytes: Uint8Array, from: number, to: number, out: Uint32Array) => boolean;

/** A decimal number (the `-num` file's IPv4 form). */
const parseV4: ParseAddress = (bytes, from, to, out) => {
  if (to <= from || to - from > 10) return false;
  let n = 0;
  for (let i = from; i < to; i++) {
    const digit = bytes[i]! - 48;
    if (digit < 0 || digit > 9) return false;
    n = n * 10 + digit;
  }
  out[0] = n;
  return n <= 0xffffffff;
};

const v6Groups = new Uint16Array(8);

/** IPv6 text: hex groups with at most one `::`; anything else (an embedded IPv4 …) as text. */
const parseV6: ParseAddress = (bytes, from, to, out) => {
  let n = 0, gap = -1, group = 0, digits = 0;
  for (let i = from; i < to; i++) {
    const c = bytes[i]!;
    if (c === 58) { // ':'
      const closes = digits > 0;
      if (closes) {
        if (n === 8) return false;
        v6Groups[n++] = group;
        group = digits = 0;
      }
      if (i + 1 < to && bytes[i + 1] === 58) {
        if (gap >= 0) return false;
        gap = n;
        i++;
      } else if (!closes || i + 1 === to) return false; // ":a", "a:::b", "a:"
      continue;
    }
    const digit = c >= 48 && c <= 57
      ? c - 48
      : c >= 97 && c <= 102
      ? c - 87
      : c >= 65 && c <= 70
      ? c - 55
      : -1;
    if (digit < 0) {
      return c === 46 && ipv6Words(new TextDecoder().decode(bytes.subarray(from, to)), out, 0);
    }
    if (++digits > 4) return false;
    group = (group << 4) | digit;
  }
  if (digits > 0) {
    if (n === 8) return false;
    v6Groups[n++] = group;
  }
  if (gap >= 0) {
    if (n > 7) return false;
    v6Groups.copyWithin(8 - (n - gap), gap, n);
    v6Groups.fill(0, gap, 8 - (n - gap));
  } else if (n !== 8) return false;
  for (let k = 0; k < 4; k++) out[k] = ((v6Groups[2 * k]! << 16) | v6Groups[2 * k + 1]!) >>> 0;
  return true;
};

/** How deep ranges may lie inside one another in the data (it has two levels). */
const MAX_DEPTH = 32;

/**
 * `first,last,CC` lines, ascending by first, as the starts of consecutive intervals: each
 * range, and a gap (-1) after it where the next does not follow at once. A range may lie inside
 * an earlier one (the data has a few hundred: a more specific registration inside a larger
 * one): it wins where it is, and the larger one's country resumes after it. The bytes are
 * scanned by index and the numbers parsed in place, so indexing makes no string per line.
 *
 * @throws {Error} naming the line that is not such a line, or out of order
 */
function indexCsv(bytes: Uint8Array, width: 1 | 4, parse: ParseAddress): [Uint32Array, Int32Array] {
  let lineCount = 1;
  for (let i = bytes.indexOf(10); i >= 0; i = bytes.indexOf(10, i + 1)) lineCount++;
  // Each range adds its start, and at most one interval where it ends: at most two a line.
  const starts = new Uint32Array(lineCount * 2 * width);
  const values = new Int32Array(lineCount * 2);
  const start = new Uint32Array(width);
  const end = new Uint32Array(width);
  const after = new Uint32Array(width);
  // The ranges that hold the current address, outermost first: their ends (descending) and
  // countries.
  const openEnds = new Uint32Array(MAX_DEPTH * width);
  const openValues = new Int32Array(MAX_DEPTH);
  let depth = 0;
  let n = 0;
  /** An interval from `address` on (the last one's start when they start together: it wins). */
  const put = (address: Uint32Array, value: number) => {
    if (n > 0 && compareWords(starts, (n - 1) * width, address, 0, width) === 0) {
      values[n - 1] = value;
    } else {
      starts.set(address, n * width);
      values[n++] = value;
    }
  };
  /** Ends the open ranges that end before `until` (all, when null): the next out, or a gap. */
  const close = (until: Uint32Array | null) => {
    while (
      depth > 0 &&
      (until === null || compareWords(openEnds, (depth - 1) * width, until, 0, width) < 0)
    ) {
      depth--;
      after.set(openEnds.subarray(depth * width, (depth + 1) * width));
      // Nothing after a range that ends the address space.
      if (increment(after)) put(after, depth > 0 ? openValues[depth - 1]! : -1);
    }
  };
  let lineNumber = 0;
  for (let at = 0; at < bytes.length;) {
    lineNumber++;
    let eol = bytes.indexOf(10, at);
    if (eol < 0) eol = bytes.length;
    const from = at;
    at = eol + 1;
    let to = eol;
    while (to > from && (bytes[to - 1] === 13 || bytes[to - 1] === 32)) to--; // CR, trailing space
    if (to === from) continue;
    const c1 = bytes.indexOf(44, from), c2 = c1 < 0 ? -1 : bytes.indexOf(44, c1 + 1);
    let codeFrom = c2 + 1;
    while (codeFrom < to && bytes[codeFrom] === 32) codeFrom++;
    const bad = (reason: string) => {
      const line = new TextDecoder().decode(bytes.subarray(from, eol));
      return new Error(`GeoIP data line ${lineNumber}: ${reason}, got "${line}"`);
    };
    if (
      c1 < 0 || c2 < 0 || c2 >= to || to - codeFrom !== 2 ||
      !parse(bytes, from, c1, start) || !parse(bytes, c1 + 1, c2, end) ||
      compareWords(start, 0, end, 0, width) > 0
    ) {
      throw bad("expected first,last,CC");
    }
    close(start);
    if (n > 0 && compareWords(starts, (n - 1) * width, start, 0, width) > 0) {
      throw bad("expected ranges in ascending order");
    }
    put(start, (bytes[codeFrom]! << 8) | bytes[codeFrom + 1]!);
    // Open ranges that end within this one do not resume after it.
    while (depth > 0 && compareWords(openEnds, (depth - 1) * width, end, 0, width) <= 0) depth--;
    if (depth === MAX_DEPTH) throw bad(`expected ranges at most ${MAX_DEPTH} deep in others`);
    openEnds.set(end, depth * width);
    openValues[depth++] = values[n - 1]!;
  }
  close(null);
  return [starts.slice(0, n * width), values.slice(0, n)];
}

/** -1, 0 or 1 as the `width` words at `a[aAt]` are below, equal to or above those at `b[bAt]`. */
function compareWords(a: Uint32Array, aAt: number, b: Uint32Array, bAt: number, width: number) {
  for (let k = 0; k < width; k++) {
    const x = a[aAt + k]!, y = b[bAt + k]!;
    if (x !== y) return x < y ? -1 : 1;
  }
  return 0;
}

/** Adds one to a multi-word number in place; false when it wraps (it was all ones). */
function increment(words: Uint32Array): boolean {
  for (let k = words.length - 1; k >= 0; k--) {
    words[k] = (words[k]! + 1) >>> 0;
    if (words[k] !== 0) return true;
  }
  return false;
}
