/**
 * The address tables: a key is the address `ipBytes` reads (IPv4-mapped as IPv4), and a table
 * built from overlapping ranges answers what a scan of the ranges in order would.
 */
import { assertEquals } from "../_assert.ts";
import { inCidr, ipBytes, parseCidr } from "../../lib/common/security/cidr.ts";
import { ipKey, RangeTableBuilder } from "../../lib/rules/range_table.ts";

const ADDRESSES = [
  "0.0.0.0",
  "1.2.3.4",
  "255.255.255.255",
  "10.0.0.1",
  "::",
  "::1",
  "1::",
  "2001:db8::1",
  "2001:4860:4860::8888",
  "fe80::1:2",
  "1:2:3:4:5:6:7:8",
  "1:2:3:4:5:6:7::",
  "::2:3:4:5:6:7:8",
  "::ffff:1.2.3.4",
  "::ffff:102:304",
  "FD00::ABCD",
  "[fd00::1]",
  "256.1.1.1",
  "01.2.3.4",
  "1.2.3",
  "1..2.3",
  "a.b.c.d",
  ":1",
  "1:",
  "1:::2",
  "1::2::3",
  "1:2:3:4:5:6:7:8:9",
  "12345::",
  "g::",
  "1:2:3:4:5:6:7",
  "",
  ":::",
  "example.com",
];

/** The words ipBytes gives, as ipKey should. */
function expected(ip: string): { v4: boolean; words: number[] } | null {
  const bytes = ipBytes(ip.replace(/^\[(.*)\]$/, "$1"));
  if (!bytes) return null;
  const view = new DataView(bytes.buffer);
  const words = [0, 4, 8, 12].map((at) => view.getUint32(at));
  const v4 = words[0] === 0 && words[1] === 0 && words[2] === 0xffff;
  return { v4, words: v4 ? words.slice(3) : words };
}

Deno.test("ipKey: the same address as ipBytes reads, or none", () => {
  for (const ip of ADDRESSES) {
    const key = ipKey(ip);
    assertEquals(key && { v4: key.v4, words: [...key.words] }, expected(ip), ip);
  }
});

Deno.test("RangeTable: overlapping ranges give the first range's value, as a scan would", () => {
  let seed = 7;
  const random = (n: number) => ((seed = (seed * 1103515245 + 12345) >>> 0) % n);
  const texts: string[] = [];
  for (let i = 0; i < 300; i++) {
    texts.push(
      i % 2
        ? `10.${random(4)}.${random(256)}.0/${8 + random(25)}`
        : `fd00:${random(4)}::/${16 + random(40)}`,
    );
  }
  const ranges = texts.map((t) => parseCidr(t));
  const builder = new RangeTableBuilder();
  ranges.forEach((r, i) => builder.add(r, i));
  const table = builder.build();
  for (let i = 0; i < 5000; i++) {
    const ip = i % 2
      ? `10.${random(5)}.${random(256)}.${random(256)}`
      : `fd00:${random(5).toString(16)}:${random(65536).toString(16)}::${
        random(65536).toString(16)
      }`;
    const bytes = ipBytes(ip)!;
    const scan = ranges.findIndex((r) => inCidr(bytes, r));
    assertEquals(table.lookup(ipKey(ip)!), scan, ip);
  }
});
