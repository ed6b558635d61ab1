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
  const [v4Text, v6Text] = await Promise.all([readData(V4_FILE), readData(V6_FILE)]);
  const [v4Starts, v4Values] = indexCsv(v4Text, 1, parseV4);
  const [v6Starts, v6Values] = indexCsv(v6Text, 4, parseV6);
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
 * A data file's text. Read from where the module resolves it, so the text is freed once
 * indexed; the dynamic import is the fallback and what makes `deno compile` embed the package
 * (it follows imports with a literal specifier; a text import is then kept for the process's
 * life, about 21 MB).
 */
async function readData(file: typeof V4_FILE | typeof V6_FILE): Promise<string> {
  try {
    return await Deno.readTextFile(new URL(import.meta.resolve(file)));
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
    return module.default;
  }
}

/** Writes the address `text` as `width` words at `out[at]`; false if it is not one. */
type ParseAddress = (text: string, out: Uint32Array, at: number) => boolean;

const parseV4: ParseAddress = (text, out, at) => {
  const n = Number(text);
  out[at] = n;
  return Number.isInteger(n) && n >= 0 && n <= 0xffffffff;
};

const parseV6: ParseAddress = ipv6Words;

/**
 * `first,last,CC` lines (ascending, not overlapping) as the starts of consecutive intervals:
 * each range, and a gap (-1) after it where the next does not follow at once.
 *
 * @throws {Error} naming the line that is not such a line
 */
function indexCsv(text: string, width: 1 | 4, parse: ParseAddress): [Uint32Array, Int32Array] {
  const lines = text.split("\n");
  const starts = new Uint32Array(lines.length * 2 * width);
  const values = new Int32Array(lines.length * 2);
  const start = new Uint32Array(width);
  const end = new Uint32Array(width);
  let n = 0;
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i]!;
    if (line === "") continue;
    const c1 = line.indexOf(","), c2 = line.indexOf(",", c1 + 1);
    const code = line.slice(c2 + 1).trim();
    if (
      c1 < 0 || c2 < 0 || code.length !== 2 ||
      !parse(line.slice(0, c1), start, 0) || !parse(line.slice(c1 + 1, c2), end, 0)
    ) {
      throw new Error(`GeoIP data line ${i + 1}: expected first,last,CC, got "${line}"`);
    }
    // The gap left after the previous range is no gap when this range starts there.
    if (n > 0 && values[n - 1] === -1 && sameWords(starts, (n - 1) * width, start)) n--;
    starts.set(start, n * width);
    values[n++] = countryNumber(code);
    // The gap after this range starts at end + 1, unless the range ends the address space.
    if (!increment(end)) break;
    starts.set(end, n * width);
    values[n++] = -1;
  }
  return [starts.slice(0, n * width), values.slice(0, n)];
}

function sameWords(words: Uint32Array, at: number, other: Uint32Array): boolean {
  for (let k = 0; k < other.length; k++) if (words[at + k] !== other[k]) return false;
  return true;
}

/** Adds one to a multi-word number in place; false when it wraps (it was all ones). */
function increment(words: Uint32Array): boolean {
  for (let k = words.length - 1; k >= 0; k--) {
    words[k] = (words[k]! + 1) >>> 0;
    if (words[k] !== 0) return true;
  }
  return false;
}
