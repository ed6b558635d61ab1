import {
  addressLength,
  ATYP,
  decodeAddress,
  encodeAddress,
  formatHostPort,
  formatIPv6,
  isIPv4,
  isIPv6,
  parseHostPort,
  parseIPv6,
} from "../../lib/protocol/address.ts";
import { ProtocolError } from "../../lib/protocol/errors.ts";
import { assert, assertEquals, assertThrows, bytes } from "../_assert.ts";

// --- parseHostPort / formatHostPort ---

Deno.test("parseHostPort reads host:port, domains and IPv4", () => {
  assertEquals(parseHostPort("example.com:443"), { host: "example.com", port: 443 });
  assertEquals(parseHostPort("127.0.0.1:1080"), { host: "127.0.0.1", port: 1080 });
  assertEquals(parseHostPort("a:1"), { host: "a", port: 1 });
  assertEquals(parseHostPort("a:65535"), { host: "a", port: 65535 });
  assertEquals(parseHostPort("a:08080"), { host: "a", port: 8080 });
});

Deno.test("parseHostPort reads bracketed IPv6", () => {
  assertEquals(parseHostPort("[::1]:8443"), { host: "::1", port: 8443 });
  assertEquals(parseHostPort("[2001:db8::1]:80"), { host: "2001:db8::1", port: 80 });
  assertEquals(parseHostPort("[::ffff:1.2.3.4]:80"), { host: "::ffff:1.2.3.4", port: 80 });
  assertEquals(parseHostPort("[::]:1"), { host: "::", port: 1 });
});

Deno.test("parseHostPort fills in the default host for :port", () => {
  assertEquals(parseHostPort(":1080", "127.0.0.1"), { host: "127.0.0.1", port: 1080 });
  assertEquals(parseHostPort(":1080"), { host: "", port: 1080 });
  assertEquals(parseHostPort("h:1080", "127.0.0.1"), { host: "h", port: 1080 });
});

Deno.test("parseHostPort refuses bad and missing ports", () => {
  for (
    const text of [
      "example.com",
      "example.com:",
      "example.com:0",
      "example.com:65536",
      "example.com:99999",
      "example.com:123456",
      "example.com:-1",
      "example.com:+80",
      "example.com:8a",
      "example.com: 80",
      "example.com:80 ",
      "example.com:0x50",
      "example.com:1e3",
      "",
      ":",
      "[::1]:0",
      "[::1]:65536",
      "[::1]:",
    ]
  ) {
    assertThrows(() => parseHostPort(text), ProtocolError);
  }
  assertThrows(() => parseHostPort("a:70000"), ProtocolError, "1 to 65535");
});

Deno.test("parseHostPort refuses unbalanced brackets and unbracketed IPv6", () => {
  for (
    const text of [
      "[::1]",
      "[::1:80",
      "[::1]80",
      "[::1]x80",
      "::1:80",
      "2001:db8::1:443",
      "[]:80",
      "[example.com]:80",
      "[1.2.3.4]:80",
      "[::1::2]:80",
      "[1:2:3:4:5:6:7:8:9]:80",
    ]
  ) {
    assertThrows(() => parseHostPort(text), ProtocolError);
  }
  assertThrows(() => parseHostPort("::1:80"), ProtocolError, "brackets");
});

Deno.test("formatHostPort brackets IPv6 and round-trips with parseHostPort", () => {
  assertEquals(formatHostPort({ host: "::1", port: 443 }), "[::1]:443");
  assertEquals(formatHostPort({ host: "example.com", port: 80 }), "example.com:80");
  assertEquals(formatHostPort({ host: "10.0.0.1", port: 1 }), "10.0.0.1:1");
  for (const text of ["[::1]:443", "example.com:80", "10.0.0.1:65535", "[fe80::1]:22"]) {
    assertEquals(formatHostPort(parseHostPort(text)), text);
  }
});

// --- isIPv4 / isIPv6 ---

Deno.test("isIPv4 accepts dotted quads only", () => {
  for (const ok of ["0.0.0.0", "127.0.0.1", "255.255.255.255", "1.2.3.4", "192.168.100.200"]) {
    assert(isIPv4(ok), ok);
  }
  for (
    const bad of [
      "256.0.0.1",
      "1.2.3",
      "1.2.3.4.5",
      "01.2.3.4",
      "1.2.3.04",
      "1.2.3.-1",
      "a.b.c.d",
      " 1.2.3.4",
      "1.2.3.4 ",
      "",
      "::1",
      "1..3.4",
    ]
  ) {
    assert(!isIPv4(bad), bad);
  }
});

Deno.test("isIPv6 accepts IPv6 literals only", () => {
  for (const ok of ["::", "::1", "1::", "2001:db8::1", "1:2:3:4:5:6:7:8", "::ffff:1.2.3.4"]) {
    assert(isIPv6(ok), ok);
  }
  for (const bad of ["1.2.3.4", "example.com", "", ":", ":::", "1:2", "::g", "1::2::3"]) {
    assert(!isIPv6(bad), bad);
  }
});

// --- parseIPv6 / formatIPv6 ---

Deno.test("parseIPv6 reads full, compressed and mixed forms", () => {
  assertEquals(parseIPv6("::"), [0, 0, 0, 0, 0, 0, 0, 0]);
  assertEquals(parseIPv6("::1"), [0, 0, 0, 0, 0, 0, 0, 1]);
  assertEquals(parseIPv6("1::"), [1, 0, 0, 0, 0, 0, 0, 0]);
  assertEquals(parseIPv6("2001:db8::ff00:42:8329"), [
    0x2001,
    0xdb8,
    0,
    0,
    0,
    0xff00,
    0x42,
    0x8329,
  ]);
  assertEquals(parseIPv6("2001:0DB8:0000:0000:0000:FF00:0042:8329"), [
    0x2001,
    0xdb8,
    0,
    0,
    0,
    0xff00,
    0x42,
    0x8329,
  ]);
  assertEquals(parseIPv6("1:2:3:4:5:6:7:8"), [1, 2, 3, 4, 5, 6, 7, 8]);
  assertEquals(parseIPv6("1:2:3:4:5:6:7::"), [1, 2, 3, 4, 5, 6, 7, 0]);
  assertEquals(parseIPv6("::2:3:4:5:6:7:8"), [0, 2, 3, 4, 5, 6, 7, 8]);
  assertEquals(parseIPv6("::ffff:192.0.2.1"), [0, 0, 0, 0, 0, 0xffff, 0xc000, 0x0201]);
  assertEquals(parseIPv6("::1.2.3.4"), [0, 0, 0, 0, 0, 0, 0x0102, 0x0304]);
  assertEquals(parseIPv6("1:2:3:4:5:6:1.2.3.4"), [1, 2, 3, 4, 5, 6, 0x0102, 0x0304]);
  assertEquals(parseIPv6("fe80::1%eth0"), [0xfe80, 0, 0, 0, 0, 0, 0, 1]);
});

Deno.test("parseIPv6 refuses malformed literals", () => {
  for (
    const bad of [
      "",
      ":",
      ":::",
      "1:2:3:4:5:6:7",
      "1:2:3:4:5:6:7:8:9",
      "1:2:3:4:5:6:7:8::",
      "::1:2:3:4:5:6:7:8",
      "1::2::3",
      ":1:2:3:4:5:6:7",
      "1:2:3:4:5:6:7:",
      "12345::",
      "g::",
      "::-1",
      "::1.2.3",
      "::256.1.1.1",
      "1:2:3:4:5:6:7:1.2.3.4",
      "1.2.3.4",
      " ::1",
    ]
  ) {
    assertEquals(parseIPv6(bad), null, bad);
  }
});

Deno.test("formatIPv6 writes the RFC 5952 canonical form", () => {
  const cases: [number[], string][] = [
    [[0, 0, 0, 0, 0, 0, 0, 0], "::"],
    [[0, 0, 0, 0, 0, 0, 0, 1], "::1"],
    [[1, 0, 0, 0, 0, 0, 0, 0], "1::"],
    [[0x2001, 0xdb8, 0, 0, 0, 0, 0, 1], "2001:db8::1"],
    // §4.1 leading zeros suppressed; §4.3 lowercase
    [[0x2001, 0x0db8, 0xabcd, 0x0012, 0, 0, 0, 0x000a], "2001:db8:abcd:12::a"],
    // §4.2.2 a single 0 group is not compressed
    [[0x2001, 0xdb8, 0, 1, 1, 1, 1, 1], "2001:db8:0:1:1:1:1:1"],
    // §4.2.3 the longest run is compressed
    [[0x2001, 0, 0, 1, 0, 0, 0, 1], "2001:0:0:1::1"],
    // §4.2.3 on a tie, the first run is compressed
    [[0x2001, 0xdb8, 0, 0, 1, 0, 0, 1], "2001:db8::1:0:0:1"],
    [[1, 2, 3, 4, 5, 6, 7, 8], "1:2:3:4:5:6:7:8"],
    [[0, 1, 2, 3, 4, 5, 6, 7], "0:1:2:3:4:5:6:7"],
    [[1, 2, 3, 4, 5, 6, 7, 0], "1:2:3:4:5:6:7:0"],
    [[0, 0, 1, 2, 3, 4, 5, 6], "::1:2:3:4:5:6"],
    [[1, 2, 3, 4, 5, 6, 0, 0], "1:2:3:4:5:6::"],
    [new Array(8).fill(0xffff), "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff"],
    [[0xfe80, 0, 0, 0, 0, 0, 0, 0x1], "fe80::1"],
  ];
  for (const [groups, text] of cases) {
    assertEquals(formatIPv6(groups), text, groups.join(","));
    assertEquals(parseIPv6(text), groups, text);
  }
});

Deno.test("formatIPv6(parseIPv6(x)) canonicalises non-canonical input", () => {
  const cases: [string, string][] = [
    ["2001:0db8:0000:0000:0000:0000:0000:0001", "2001:db8::1"],
    ["2001:DB8::1", "2001:db8::1"],
    ["2001:db8:0:0:1:0:0:1", "2001:db8::1:0:0:1"],
    ["0:0:0:0:0:0:0:0", "::"],
    ["2001:db8::0:1", "2001:db8::1"],
    ["2001:db8::1:1:1:1:1", "2001:db8:0:1:1:1:1:1"],
  ];
  for (const [input, canonical] of cases) {
    assertEquals(formatIPv6(parseIPv6(input)!), canonical, input);
  }
});

// --- encodeAddress / decodeAddress ---

const vectors: [string, { host: string; port: number }, Uint8Array][] = [
  ["IPv4", { host: "127.0.0.1", port: 8080 }, bytes([0x01, 127, 0, 0, 1, 0x1f, 0x90])],
  ["IPv4 extremes", { host: "255.0.0.0", port: 65535 }, bytes([0x01, 255, 0, 0, 0, 0xff, 0xff])],
  [
    "IPv6",
    { host: "2001:db8::1", port: 443 },
    bytes([0x04, 0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x01, 0x01, 0xbb]),
  ],
  [
    "IPv6 loopback",
    { host: "::1", port: 1 },
    bytes([0x04, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0, 1]),
  ],
  ["domain", { host: "example.com", port: 80 }, bytes([0x03, 11], "example.com", [0, 80])],
  ["one-letter domain", { host: "a", port: 256 }, bytes([0x03, 1, 0x61, 1, 0])],
];

Deno.test("encodeAddress writes the SOCKS5 byte vectors", () => {
  for (const [name, destination, wire] of vectors) {
    assertEquals(encodeAddress(destination), wire, name);
  }
  assertEquals(ATYP, { ipv4: 1, domain: 3, ipv6: 4 });
});

Deno.test("decodeAddress reads the SOCKS5 byte vectors", () => {
  for (const [name, destination, wire] of vectors) {
    assertEquals(decodeAddress(wire), { value: destination, consumed: wire.length }, name);
  }
});

Deno.test("decodeAddress honours the offset and ignores trailing bytes", () => {
  for (const [name, destination, wire] of vectors) {
    const framed = bytes([9, 9, 9], wire, "tail");
    assertEquals(
      decodeAddress(framed, 3),
      { value: destination, consumed: wire.length },
      name,
    );
  }
});

Deno.test("decodeAddress returns null at every truncated prefix", () => {
  for (const [name, , wire] of vectors) {
    for (let n = 0; n < wire.length; n++) {
      assertEquals(decodeAddress(wire.subarray(0, n)), null, `${name} prefix ${n}`);
      const framed = bytes([7, 7], wire.subarray(0, n));
      assertEquals(decodeAddress(framed, 2), null, `${name} prefix ${n} at offset 2`);
    }
  }
  assertEquals(decodeAddress(new Uint8Array(), 0), null);
  assertEquals(decodeAddress(bytes([1, 2, 3]), 3), null);
  assertEquals(decodeAddress(bytes([1, 2, 3]), 10), null);
});

Deno.test("decodeAddress writes IPv6 in canonical form", () => {
  const wire = bytes(
    [0x04, 0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 1, 0, 0, 0, 0, 0, 1],
    [0, 22],
  );
  assertEquals(decodeAddress(wire)?.value, { host: "2001:db8::1:0:0:1", port: 22 });
  const zeros = bytes([0x04], new Array(16).fill(0), [0, 0]);
  assertEquals(decodeAddress(zeros)?.value, { host: "::", port: 0 });
});

Deno.test("decodeAddress refuses unknown address types with code 0x08", () => {
  for (const atyp of [0x00, 0x02, 0x05, 0x06, 0x7f, 0xff]) {
    const error = assertThrows(
      () => decodeAddress(bytes([atyp, 1, 2, 3, 4, 5, 6, 7, 8, 9])),
      ProtocolError,
      "address type",
    );
    assertEquals(error.code, 0x08, `ATYP ${atyp}`);
    // known as soon as the ATYP byte is there
    assertEquals(
      assertThrows(() => decodeAddress(bytes([atyp])), ProtocolError).code,
      0x08,
    );
  }
});

Deno.test("decodeAddress refuses an empty domain", () => {
  const error = assertThrows(() => decodeAddress(bytes([0x03, 0, 0, 80])), ProtocolError);
  assertEquals(error.code, 0x01);
});

Deno.test("decodeAddress reads a 255-byte domain and UTF-8 names", () => {
  const long = "a".repeat(255);
  const wire = bytes([0x03, 255], long, [0x01, 0xbb]);
  assertEquals(encodeAddress({ host: long, port: 443 }), wire);
  assertEquals(decodeAddress(wire), { value: { host: long, port: 443 }, consumed: 259 });
  for (let n = 0; n < wire.length; n++) assertEquals(decodeAddress(wire.subarray(0, n)), null);

  const utf8 = encodeAddress({ host: "bücher.de", port: 80 });
  assertEquals(utf8[1], 10); // ü is two bytes
  assertEquals(decodeAddress(utf8)?.value, { host: "bücher.de", port: 80 });
});

Deno.test("encodeAddress refuses empty, over-long and malformed hosts", () => {
  assertThrows(() => encodeAddress({ host: "", port: 80 }), ProtocolError);
  assertThrows(() => encodeAddress({ host: "a".repeat(256), port: 80 }), ProtocolError, "255");
  // 128 two-byte characters: 256 bytes
  assertThrows(() => encodeAddress({ host: "é".repeat(128), port: 80 }), ProtocolError);
  assertThrows(() => encodeAddress({ host: "1::2::3", port: 80 }), ProtocolError, "IPv6");
  assertThrows(() => encodeAddress({ host: "example.com:80", port: 80 }), ProtocolError);
});

Deno.test("encodeAddress treats non-IPv4 dotted names as domains", () => {
  assertEquals(
    encodeAddress({ host: "256.1.1.1", port: 1 }),
    bytes([0x03, 9], "256.1.1.1", [0, 1]),
  );
  assertEquals(
    encodeAddress({ host: "::ffff:1.2.3.4", port: 1 }),
    bytes(
      [0x04, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 1, 2, 3, 4],
      [0, 1],
    ),
  );
});

Deno.test("encodeAddress and decodeAddress round-trip", () => {
  const hosts = [
    "0.0.0.0",
    "8.8.8.8",
    "::",
    "::1",
    "fe80::1",
    "2001:db8:1:2:3:4:5:6",
    "localhost",
    "status.swiftproxy.invalid",
    "xn--bcher-kva.de",
  ];
  for (const host of hosts) {
    for (const port of [0, 1, 80, 255, 256, 443, 1080, 65535]) {
      const wire = encodeAddress({ host, port });
      assertEquals(decodeAddress(wire), { value: { host, port }, consumed: wire.length }, host);
    }
  }
});

Deno.test({
  name: "encodeAddress refuses ports outside 0-65535",
  // BUG (minor): the port is written as (port >> 8, port & 0xff) unchecked, so
  // encodeAddress({ host: "a", port: 70000 }) writes port bytes 11 70 (4464) and port -1 writes
  // ff ff (65535). Expected a ProtocolError or RangeError; actual: silently wrong bytes.
  // was ignore: true (bug since fixed)
  fn() {
    for (const port of [-1, 65536, 70000, 1.5, NaN]) {
      let threw = false;
      try {
        encodeAddress({ host: "a", port });
      } catch {
        threw = true;
      }
      assert(threw, `port ${port} was encoded`);
    }
  },
});

Deno.test("decodeAddress refuses a domain that is not UTF-8 with 0x08, once it is whole", () => {
  const wire = bytes([0x03, 255], new Array(255).fill(0xff), [0, 80]);
  for (let n = 0; n < wire.length; n++) assertEquals(decodeAddress(wire.subarray(0, n)), null);
  const error = assertThrows(() => decodeAddress(wire), ProtocolError, "UTF-8");
  assertEquals(error.code, 0x08);
  const truncated = bytes([0x03, 3, 0x61, 0xc3, 0x61, 0, 80]); // a lone lead byte
  assertEquals(assertThrows(() => decodeAddress(truncated), ProtocolError).code, 0x08);
});

Deno.test("addressLength measures each address type without decoding; null until whole", () => {
  for (const host of ["127.0.0.1", "::1", "localhost"]) {
    const wire = bytes([9, 9], encodeAddress({ host, port: 53 }), [7]);
    assertEquals(addressLength(wire, 2), wire.length - 3, host);
    for (let n = 0; n < wire.length - 1; n++) {
      assertEquals(addressLength(wire.subarray(0, n), 2), null, `${host}: ${n} bytes`);
    }
  }
  assertThrows(() => addressLength(bytes([5, 1, 2])), ProtocolError, "address type");
  assertThrows(() => addressLength(bytes([3, 0, 0, 53])), ProtocolError, "domain");
});
