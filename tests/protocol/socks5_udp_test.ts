import {
  decodeSocksDatagram,
  encodeSocksDatagram,
  splitSocksDatagram,
} from "../../lib/protocol/socks5_udp.ts";
import { encodeAddress } from "../../lib/protocol/address.ts";
import type { SocksDatagram } from "../../lib/protocol/socks5_udp.ts";
import { ProtocolError } from "../../lib/protocol/errors.ts";
import { assertEquals, assertThrows, bytes } from "../_assert.ts";

const datagram = (host: string, port: number, payload: Uint8Array, frag = 0): SocksDatagram => ({
  frag,
  destination: { host, port },
  payload,
});

const vectors: [string, SocksDatagram, Uint8Array][] = [
  [
    "IPv4, one byte",
    datagram("127.0.0.1", 7, bytes([0x42])),
    bytes([0, 0, 0, 1, 127, 0, 0, 1, 0, 7, 0x42]),
  ],
  [
    "IPv6, a DNS-sized query",
    datagram("::1", 53, bytes("query")),
    bytes([0, 0, 0, 4], new Array(15).fill(0), [1, 0, 53], "query"),
  ],
  [
    "domain",
    datagram("localhost", 0x1f90, bytes("hi")),
    bytes([0, 0, 0, 3, 9], "localhost", [0x1f, 0x90], "hi"),
  ],
  [
    "empty payload",
    datagram("10.0.0.1", 1, new Uint8Array()),
    bytes([0, 0, 0, 1, 10, 0, 0, 1, 0, 1]),
  ],
];

Deno.test("encodeSocksDatagram writes the byte vectors (RSV 0, FRAG 0)", () => {
  for (const [name, value, wire] of vectors) {
    assertEquals(encodeSocksDatagram(value.destination, value.payload), wire, name);
  }
});

Deno.test("decodeSocksDatagram reads the byte vectors; the payload is the rest", () => {
  for (const [name, value, wire] of vectors) {
    assertEquals(decodeSocksDatagram(wire), { value, consumed: wire.length }, name);
  }
});

Deno.test("decodeSocksDatagram returns null for a datagram cut inside its header", () => {
  for (const [name, value, wire] of vectors) {
    const headerLength = wire.length - value.payload.length;
    for (let n = 0; n < headerLength; n++) {
      assertEquals(decodeSocksDatagram(wire.slice(0, n)), null, `${name}: ${n} bytes`);
    }
    // cut inside the payload, it is a shorter datagram, not a malformed one
    for (let n = headerLength; n <= wire.length; n++) {
      assertEquals(decodeSocksDatagram(wire.slice(0, n))?.value.payload.length, n - headerLength);
    }
  }
});

Deno.test("decodeSocksDatagram reports FRAG so the caller can drop fragments", () => {
  const wire = bytes([0, 0, 1, 1, 127, 0, 0, 1, 0, 7, 0x42]);
  assertEquals(decodeSocksDatagram(wire)?.value.frag, 1);
  wire[2] = 0x81; // the end-of-sequence bit with position 1
  assertEquals(decodeSocksDatagram(wire)?.value.frag, 0x81);
});

Deno.test("decodeSocksDatagram ignores RSV, as shadowsocks-rust does", () => {
  const wire = bytes([0xff, 0xff, 0, 1, 127, 0, 0, 1, 0, 7, 0x42]);
  assertEquals(decodeSocksDatagram(wire)?.value, datagram("127.0.0.1", 7, bytes([0x42])));
});

Deno.test("decodeSocksDatagram refuses address types 0 and 5 and a zero-length domain", () => {
  for (const atyp of [0, 2, 5, 0xff]) {
    assertThrows(
      () => decodeSocksDatagram(bytes([0, 0, 0, atyp, 127, 0, 0, 1, 0, 7, 1])),
      ProtocolError,
      "address type",
    );
  }
  assertThrows(() => decodeSocksDatagram(bytes([0, 0, 0, 3, 0, 0, 7])), ProtocolError, "domain");
});

Deno.test("encodeSocksDatagram and decodeSocksDatagram round-trip datagrams up to 65507 bytes", () => {
  for (const host of ["192.168.1.1", "2001:db8::1", "a".repeat(255), "例え.jp"]) {
    for (const size of [0, 1, 1400, 8192, 65507]) {
      const payload = new Uint8Array(size).map((_, i) => i * 7);
      const wire = encodeSocksDatagram({ host, port: 65535 }, payload);
      assertEquals(decodeSocksDatagram(wire)?.value, datagram(host, 65535, payload));
    }
  }
});

Deno.test("encodeSocksDatagram refuses a domain over 255 bytes", () => {
  assertThrows(
    () => encodeSocksDatagram({ host: "a".repeat(256), port: 1 }, new Uint8Array()),
    ProtocolError,
    "255",
  );
});

Deno.test("splitSocksDatagram gives FRAG, the encoded address and the payload as views", () => {
  for (const [name, value, wire] of vectors) {
    const raw = splitSocksDatagram(wire)!;
    assertEquals(raw.frag, value.frag, name);
    assertEquals(raw.address, encodeAddress(value.destination), name);
    assertEquals(raw.payload, value.payload, name);
    assertEquals(raw.payload.buffer, wire.buffer, `${name}: not a copy`);
  }
  assertEquals(splitSocksDatagram(bytes([0, 0, 0, 1, 127, 0])), null);
});
