import {
  formatBytes,
  parseRate,
  parseSize,
  parseTypedRate,
  parseTypedSize,
} from "../../lib/common/ops/units.ts";
import { assertEquals, assertThrows } from "../_assert.ts";

const KiB = 1024;
const MiB = 1024 * KiB;
const GiB = 1024 * MiB;
const TiB = 1024 * GiB;

Deno.test("parseSize reads binary and decimal units", () => {
  const cases: [string, number][] = [
    ["0", 0],
    ["1", 1],
    ["1024", 1024],
    ["100B", 100],
    ["512KiB", 512 * KiB],
    ["2MiB", 2 * MiB],
    ["50GiB", 50 * GiB],
    ["1TiB", TiB],
    ["1.5MB", 1_500_000],
    ["500MB", 500_000_000],
    ["1k", 1000],
    ["1KB", 1000],
    ["2M", 2_000_000],
    ["3G", 3e9],
    ["3GB", 3e9],
    ["1T", 1e12],
    ["1TB", 1e12],
    ["1.5KiB", 1536],
    ["0.5GiB", GiB / 2],
    ["0GiB", 0],
  ];
  for (const [text, bytes] of cases) assertEquals(parseSize(text), bytes, text);
});

Deno.test("parseSize ignores case and surrounding or inner whitespace", () => {
  assertEquals(parseSize("2mib"), 2 * MiB);
  assertEquals(parseSize("2MIB"), 2 * MiB);
  assertEquals(parseSize(" 2 MiB "), 2 * MiB);
  assertEquals(parseSize("50\tGiB"), 50 * GiB);
});

Deno.test("parseSize rounds fractional bytes to whole bytes", () => {
  assertEquals(parseSize("1.0001KiB"), 1024);
  assertEquals(parseSize("1.5"), 2);
  assertEquals(parseSize("0.001MiB"), 1049);
});

Deno.test("parseSize refuses bad values with a RangeError naming an example", () => {
  const bad = [
    "",
    " ",
    "abc",
    "5 parsecs",
    "-1",
    "-1MiB",
    "+1MiB",
    "1e3",
    "1.5.5MB",
    ".5MB",
    "5.MB",
    "1,000",
    "1_000",
    "MiB",
    "10Mbit",
    "10MiB/s",
    "1 0MiB",
    "0x10",
    "Infinity",
    "NaN",
    "1KIBB",
    // Names every object has are no units (these read as "too large" once).
    "5constructor",
    "5__proto__",
  ];
  for (const text of bad) assertThrows(() => parseSize(text), RangeError, "50GiB");
});

Deno.test("parseSize refuses values too large for an exact integer", () => {
  assertThrows(() => parseSize("9999999TiB"), RangeError, "too large");
  assertThrows(() => parseSize("99999999999999999999"), RangeError, "too large");
  assertEquals(parseSize("8191TiB"), 8191 * TiB);
});

Deno.test("parseRate reads the documented examples", () => {
  assertEquals(parseRate("512KiB"), 524_288);
  assertEquals(parseRate("2MiB"), 2_097_152);
  assertEquals(parseRate("1.5MB"), 1_500_000);
  assertEquals(parseRate("10Mbit"), 1_250_000);
  assertEquals(parseRate("0"), 0);
});

Deno.test("parseRate reads bits, bytes and per-second suffixes", () => {
  const cases: [string, number][] = [
    ["1000", 1000],
    ["8bit", 1],
    ["1kbit", 125],
    ["100Kbit", 12_500],
    ["1Gbit", 125_000_000],
    ["2MiB/s", 2 * MiB],
    ["2MiB/S", 2 * MiB],
    ["10Mbit/s", 1_250_000],
    ["1.5 MB/s", 1_500_000],
    ["512 KiB", 512 * KiB],
    ["512kib", 512 * KiB],
    ["1GiB", GiB],
    ["0KiB", 0],
    ["0Mbit", 0],
    ["  1MB  ", 1_000_000],
    ["10Mbps", 1_250_000],
  ];
  for (const [text, rate] of cases) assertEquals(parseRate(text), rate, text);
});

Deno.test("parseRate refuses bad values with a RangeError naming examples", () => {
  const bad = [
    "",
    "fast",
    "-1",
    "-512KiB",
    "1e6",
    "10 Mbits",
    "10Mibit",
    "10Mbit/h",
    "/s",
    "ps",
    "KiB",
    "1.2.3MB",
    "1,5MB",
    "unlimited",
    "5constructor",
  ];
  for (const text of bad) assertThrows(() => parseRate(text), RangeError, "512KiB");
  assertThrows(() => parseRate("99999999999TiB"), RangeError, "too large");
});

Deno.test({
  name: "parseRate reads Mbps as megabits per second",
  // BUG: parseRate strips "ps" and then reads "Mb" case-insensitively as megabytes, so
  // parseRate("10Mbps") is 10000000 (80 Mbit/s) instead of 1250000; "8bps" is 8 instead of 1,
  // "1Gbps" 1e9 instead of 125000000. ("10MBps" = 10 MB/s = 10000000 is right.)
  // was ignore: true (bug since fixed)
  fn() {
    assertEquals(parseRate("10Mbps"), 1_250_000);
    assertEquals(parseRate("8bps"), 1);
    assertEquals(parseRate("1Gbps"), 125_000_000);
    assertEquals(parseRate("100kbps"), 12_500);
  },
});

Deno.test({
  name: "a non-zero size or rate never becomes 0 (unlimited)",
  // BUG (minor): rounding turns tiny non-zero values into 0, which means "unlimited":
  // parseRate("0.4") and parseSize("0.4") return 0, parseRate("1bit") returns 0 (0.125 rounded).
  // Expected a RangeError or at least 1; actual 0.
  // was ignore: true (bug since fixed)
  fn() {
    for (const text of ["0.4", "1bit", "0.0001KiB"]) {
      let value: number | undefined;
      try {
        value = parseRate(text);
      } catch (error) {
        if (!(error instanceof RangeError)) throw error;
      }
      if (value !== undefined) assertEquals(value > 0, true, text);
    }
    let size: number | undefined;
    try {
      size = parseSize("0.4");
    } catch (error) {
      if (!(error instanceof RangeError)) throw error;
    }
    if (size !== undefined) assertEquals(size > 0, true, "size 0.4");
  },
});

Deno.test("formatBytes writes binary units with up to two decimals", () => {
  const cases: [number, string][] = [
    [1, "1 B"],
    [512, "512 B"],
    [1023, "1023 B"],
    [1024, "1 KiB"],
    [1536, "1.5 KiB"],
    [1280, "1.25 KiB"],
    [10 * KiB, "10 KiB"],
    [10.5 * KiB, "10.5 KiB"],
    [100 * KiB, "100 KiB"],
    [MiB, "1 MiB"],
    [2.5 * MiB, "2.5 MiB"],
    [50 * GiB, "50 GiB"],
    [3 * TiB, "3 TiB"],
    [1024 * TiB, "1 PiB"],
    [2048 * 1024 * TiB, "2048 PiB"],
  ];
  for (const [bytes, text] of cases) assertEquals(formatBytes(bytes), text, String(bytes));
});

Deno.test("formatBytes writes 0 as the given zero text", () => {
  assertEquals(formatBytes(0), "0 B");
  assertEquals(formatBytes(0, "unlimited"), "unlimited");
  assertEquals(formatBytes(1, "unlimited"), "1 B");
});

Deno.test("formatBytes output parses back to about the same size", () => {
  for (const bytes of [1, 1000, 1536, 2 * MiB, 50 * GiB, 3 * TiB, 123_456_789]) {
    const parsed = parseSize(formatBytes(bytes).replace(" ", ""));
    const error = Math.abs(parsed - bytes) / bytes;
    assertEquals(error < 0.01, true, `${bytes} -> ${formatBytes(bytes)} -> ${parsed}`);
  }
});

Deno.test("formatBytes in the steady style keeps three figures, for numbers a page updates", () => {
  const cases: [number, string][] = [
    [1, "1 B"],
    [1023, "1023 B"],
    [1536, "1.50 KiB"],
    [10 * KiB, "10.0 KiB"],
    [150.4 * KiB, "150 KiB"],
    [MiB, "1.00 MiB"],
    [2 * GiB, "2.00 GiB"],
  ];
  for (const [bytes, text] of cases) {
    assertEquals(formatBytes(bytes, "0 B", "steady"), text, String(bytes));
  }
  assertEquals(formatBytes(0, "0 B", "steady"), "0 B");
});

Deno.test("typed rates and sizes refuse a small number without a unit, with examples", () => {
  for (const text of ["0.5", "1", "1000", "1023", "1.5", " 500 ", "0.5/s"]) {
    assertThrows(() => parseTypedRate(text), RangeError, "512KiB");
    if (!text.endsWith("/s")) assertThrows(() => parseTypedSize(text), RangeError, "0.5MiB");
  }
  assertThrows(() => parseTypedRate("0.5"), RangeError, "0.5MiB");
});

Deno.test("typed rates and sizes take 0, a unit, an explicit B, or a bare number from 1 KiB", () => {
  const accepted = { "0": 0, "0.0": 0, "500B": 500, "1b": 1, "1024": 1024, "1000000": 1e6 };
  for (const [text, bytes] of Object.entries(accepted)) {
    assertEquals([parseTypedRate(text), parseTypedSize(text)], [bytes, bytes], text);
  }
  assertEquals(parseTypedSize("0.5MiB"), 512 * KiB);
  assertEquals(parseTypedRate("512KiB"), 512 * KiB);
  assertEquals(parseTypedRate("8bit"), 1);
  assertEquals(parseTypedRate("2MiB/s"), 2 * MiB);
  assertThrows(() => parseTypedRate("fast"), RangeError, "512KiB");
});
