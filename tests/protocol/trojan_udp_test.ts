import {
  decodeTrojanFrame,
  encodeTrojanFrame,
  MAX_FRAME,
  MAX_UDP_PAYLOAD,
  splitTrojanFrame,
  writeTrojanFrame,
} from "../../lib/protocol/trojan_udp.ts";
import { encodeAddress } from "../../lib/protocol/address.ts";
import type { TrojanDatagram } from "../../lib/protocol/trojan_udp.ts";
import { ProtocolError } from "../../lib/protocol/errors.ts";
import { assertEquals, assertThrows, bytes } from "../_assert.ts";

const CRLF = [0x0d, 0x0a];
const frame = (host: string, port: number, payload: Uint8Array): TrojanDatagram => ({
  destination: { host, port },
  payload,
});

// Laid out by hand from trojan-gfw's spec (trojan-gfw.github.io/trojan/protocol).
const vectors: [string, TrojanDatagram, Uint8Array][] = [
  [
    "IPv4, one byte",
    frame("127.0.0.1", 7, bytes([0x42])),
    bytes([1, 127, 0, 0, 1, 0, 7], [0, 1], CRLF, [0x42]),
  ],
  [
    "IPv6",
    frame("::1", 53, bytes("query")),
    bytes([4], new Array(15).fill(0), [1, 0, 53], [0, 5], CRLF, "query"),
  ],
  [
    "domain",
    frame("localhost", 443, bytes("hi")),
    bytes([3, 9], "localhost", [1, 0xbb], [0, 2], CRLF, "hi"),
  ],
  [
    "empty payload",
    frame("8.8.8.8", 53, new Uint8Array()),
    bytes([1, 8, 8, 8, 8, 0, 53, 0, 0], CRLF),
  ],
];

Deno.test("encodeTrojanFrame writes the byte vectors", () => {
  for (const [name, value, wire] of vectors) {
    assertEquals(encodeTrojanFrame(value.destination, value.payload), wire, name);
  }
});

Deno.test("decodeTrojanFrame reads the byte vectors", () => {
  for (const [name, value, wire] of vectors) {
    assertEquals(decodeTrojanFrame(wire), { value, consumed: wire.length }, name);
  }
});

Deno.test("decodeTrojanFrame returns null at every truncated prefix (frames span reads)", () => {
  for (const [name, , wire] of vectors) {
    for (let n = 0; n < wire.length; n++) {
      assertEquals(decodeTrojanFrame(wire.slice(0, n)), null, `${name}: prefix of ${n} bytes`);
    }
  }
});

Deno.test("decodeTrojanFrame stops at the frame's end: the next frame stays for the next call", () => {
  const stream = bytes(...vectors.map(([, , wire]) => wire));
  let rest = stream;
  for (const [name, value] of vectors) {
    const decoded = decodeTrojanFrame(rest);
    assertEquals(decoded?.value, value, name);
    rest = rest.subarray(decoded!.consumed);
  }
  assertEquals(rest.length, 0);
});

Deno.test("decodeTrojanFrame decodes a frame over 8192 bytes so the caller can drop it", () => {
  const payload = new Uint8Array(MAX_UDP_PAYLOAD + 1);
  const wire = bytes(encodeTrojanFrame({ host: "127.0.0.1", port: 9 }, payload), vectors[0]![2]);
  const big = decodeTrojanFrame(wire)!;
  assertEquals(big.value.payload.length, MAX_UDP_PAYLOAD + 1);
  // the stream is still in step: the frame after it decodes
  assertEquals(decodeTrojanFrame(wire.subarray(big.consumed))?.value, vectors[0]![1]);
  assertEquals(MAX_UDP_PAYLOAD, 8192);
});

Deno.test("decodeTrojanFrame waits for a LENGTH beyond the data; never more than MAX_FRAME", () => {
  // LENGTH says 1000, 10 bytes follow: incomplete, not a frame
  const wire = bytes([1, 127, 0, 0, 1, 0, 7], [0x03, 0xe8], CRLF, new Array(10).fill(1));
  assertEquals(decodeTrojanFrame(wire), null);
  const largest = encodeTrojanFrame({ host: "a".repeat(255), port: 1 }, new Uint8Array(65535));
  assertEquals(largest.length, MAX_FRAME);
  assertEquals(decodeTrojanFrame(largest)?.consumed, MAX_FRAME);
  assertEquals(decodeTrojanFrame(largest.subarray(0, MAX_FRAME - 1)), null);
});

Deno.test("decodeTrojanFrame refuses address types 0 and 5 and a zero-length domain", () => {
  for (const atyp of [0, 2, 5, 0xff]) {
    assertThrows(
      () => decodeTrojanFrame(bytes([atyp, 127, 0, 0, 1, 0, 7, 0, 1], CRLF, [1])),
      ProtocolError,
      "address type",
    );
    // refused from the first byte, before the rest arrives
    assertThrows(() => decodeTrojanFrame(bytes([atyp])), ProtocolError, "address type");
  }
  assertThrows(() => decodeTrojanFrame(bytes([3, 0, 0, 7, 0, 1], CRLF, [1])), ProtocolError);
});

Deno.test("decodeTrojanFrame refuses a frame without CRLF after LENGTH", () => {
  for (const bad of [[0x0a, 0x0d], [0x0d, 0x00], [0x42, 0x42]]) {
    const wire = bytes([1, 127, 0, 0, 1, 0, 7, 0, 1], bad, [1]);
    assertThrows(() => decodeTrojanFrame(wire), ProtocolError, "CRLF");
  }
});

Deno.test("encodeTrojanFrame and decodeTrojanFrame round-trip", () => {
  for (const host of ["10.1.2.3", "2001:db8::42", "a".repeat(255), "example.com"]) {
    for (const size of [0, 1, 512, 1400, 8000, 8192, 65535]) {
      const payload = new Uint8Array(size).map((_, i) => i * 13);
      const wire = encodeTrojanFrame({ host, port: 40000 }, payload);
      assertEquals(decodeTrojanFrame(wire), {
        value: frame(host, 40000, payload),
        consumed: wire.length,
      });
    }
  }
});

Deno.test("encodeTrojanFrame refuses a payload LENGTH cannot hold", () => {
  assertThrows(
    () => encodeTrojanFrame({ host: "127.0.0.1", port: 1 }, new Uint8Array(65536)),
    ProtocolError,
    "65535",
  );
});

Deno.test("splitTrojanFrame finds every frame of a read in place, with its address as encoded", () => {
  const wire = bytes(...vectors.map(([, , frame]) => frame));
  let at = 0;
  for (const [name, { destination, payload }] of vectors) {
    const frame = splitTrojanFrame(wire, at)!;
    assertEquals(frame.address, encodeAddress(destination), name);
    assertEquals(frame.payload, payload, name);
    assertEquals(frame.payload.buffer, wire.buffer, `${name}: a view, not a copy`);
    at = frame.end;
  }
  assertEquals(at, wire.length);
  assertEquals(splitTrojanFrame(wire, at), null);
});

Deno.test("splitTrojanFrame returns null at every truncated prefix and refuses what decode does", () => {
  for (const [name, , wire] of vectors) {
    for (let n = 0; n < wire.length; n++) {
      assertEquals(splitTrojanFrame(wire.slice(0, n)), null, `${name}: prefix of ${n} bytes`);
    }
  }
  for (const atyp of [0, 5]) {
    assertThrows(() => splitTrojanFrame(bytes([atyp, 127, 0, 0, 1])), ProtocolError, "type");
  }
  assertThrows(() => splitTrojanFrame(bytes([3, 0, 0, 7, 0, 1], CRLF, [1])), ProtocolError);
  assertThrows(
    () => splitTrojanFrame(bytes([1, 127, 0, 0, 1, 0, 7, 0, 1, 0, 0, 1])),
    ProtocolError,
  );
});

Deno.test("writeTrojanFrame writes the frames encodeTrojanFrame makes, one after another", () => {
  const out = new Uint8Array(1024);
  let at = 0;
  for (const [, { destination, payload }] of vectors) {
    at = writeTrojanFrame(out, at, encodeAddress(destination), payload);
  }
  assertEquals(out.subarray(0, at), bytes(...vectors.map(([, , frame]) => frame)));
});
