import {
  decodeMuxFrame,
  encodeMuxFrame,
  MAX_MUX_FRAME,
  MAX_MUX_METADATA,
  MUX_COOL,
  MuxOption,
  MuxStatus,
} from "../../lib/protocol/mux_cool.ts";
import type { MuxFrame } from "../../lib/protocol/mux_cool.ts";
import { ProtocolError } from "../../lib/protocol/errors.ts";
import { assertEquals, assertThrows, bytes } from "../_assert.ts";

// Written by hand from v2ray-core 4.34 `common/mux/frame.go` (FrameMetadata.WriteTo: LENGTH,
// ID, STATUS, OPTION, then on New NETWORK and the address port first with types 1 IPv4,
// 2 domain, 3 IPv6) and `writer.go` (a 2-byte length before the data), and Xray's additions
// (XUDP's 8-byte global id after a New UDP address, an address on a UDP Keep).
const V6 = [0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1];
const vectors: [string, MuxFrame, Uint8Array][] = [
  [
    "New TCP to a domain, with data",
    {
      id: 1,
      status: MuxStatus.new,
      error: false,
      target: { network: "tcp", host: "example.com", port: 443 },
      data: bytes("hi"),
    },
    bytes([0, 20, 0, 1, 1, 1, 1, 0x01, 0xbb, 2, 11], "example.com", [0, 2], "hi"),
  ],
  [
    "New TCP to IPv4, no data",
    {
      id: 2,
      status: MuxStatus.new,
      error: false,
      target: { network: "tcp", host: "127.0.0.1", port: 8080 },
    },
    bytes([0, 12, 0, 2, 1, 0, 1, 0x1f, 0x90, 1, 127, 0, 0, 1]),
  ],
  [
    "New TCP to IPv6, empty data",
    {
      id: 0x0102,
      status: MuxStatus.new,
      error: false,
      target: { network: "tcp", host: "2001:db8::1", port: 22 },
      data: new Uint8Array(),
    },
    bytes([0, 24, 1, 2, 1, 1, 1, 0, 22, 3], V6, [0, 0]),
  ],
  [
    "New UDP to IPv4, with a datagram",
    {
      id: 3,
      status: MuxStatus.new,
      error: false,
      target: { network: "udp", host: "8.8.8.8", port: 53 },
      data: bytes([0xab, 0xcd]),
    },
    bytes([0, 12, 0, 3, 1, 1, 2, 0, 53, 1, 8, 8, 8, 8, 0, 2, 0xab, 0xcd]),
  ],
  [
    "New UDP with Xray's global id",
    {
      id: 4,
      status: MuxStatus.new,
      error: false,
      target: { network: "udp", host: "127.0.0.1", port: 53 },
      globalId: bytes([1, 2, 3, 4, 5, 6, 7, 8]),
      data: bytes("q"),
    },
    bytes([0, 20, 0, 4, 1, 1, 2, 0, 53, 1, 127, 0, 0, 1, 1, 2, 3, 4, 5, 6, 7, 8, 0, 1], "q"),
  ],
  [
    "Keep with data",
    { id: 1, status: MuxStatus.keep, error: false, data: bytes("hello") },
    bytes([0, 4, 0, 1, 2, 1, 0, 5], "hello"),
  ],
  [
    "Keep without data",
    { id: 0xffff, status: MuxStatus.keep, error: false },
    bytes([0, 4, 0xff, 0xff, 2, 0]),
  ],
  [
    "Keep of a UDP session with the datagram's address (Xray)",
    {
      id: 7,
      status: MuxStatus.keep,
      error: false,
      target: { network: "udp", host: "1.1.1.1", port: 53 },
      data: bytes("dns"),
    },
    bytes([0, 12, 0, 7, 2, 1, 2, 0, 53, 1, 1, 1, 1, 1, 0, 3], "dns"),
  ],
  ["End", { id: 1, status: MuxStatus.end, error: false }, bytes([0, 4, 0, 1, 3, 0])],
  ["End with error", { id: 9, status: MuxStatus.end, error: true }, bytes([0, 4, 0, 9, 3, 2])],
  ["KeepAlive", { id: 0, status: MuxStatus.keepAlive, error: false }, bytes([0, 4, 0, 0, 4, 0])],
  [
    "KeepAlive with padding data",
    { id: 0, status: MuxStatus.keepAlive, error: false, data: bytes("pad") },
    bytes([0, 4, 0, 0, 4, 1, 0, 3], "pad"),
  ],
];

Deno.test("Mux.Cool constants are V2Ray's", () => {
  assertEquals(MUX_COOL, { host: "v1.mux.cool", port: 9527 });
  assertEquals(MuxStatus, { new: 1, keep: 2, end: 3, keepAlive: 4 });
  assertEquals(MuxOption, { data: 1, error: 2 });
  assertEquals(MAX_MUX_METADATA, 512);
  assertEquals(MAX_MUX_FRAME, 2 + 512 + 2 + 65535);
});

Deno.test("encodeMuxFrame writes the byte vectors", () => {
  for (const [name, value, wire] of vectors) assertEquals(encodeMuxFrame(value), wire, name);
});

Deno.test("decodeMuxFrame reads the byte vectors", () => {
  for (const [name, value, wire] of vectors) {
    assertEquals(decodeMuxFrame(wire), { value, consumed: wire.length }, name);
  }
});

Deno.test("decodeMuxFrame returns null at every truncated prefix", () => {
  for (const [name, , wire] of vectors) {
    for (let n = 0; n < wire.length; n++) {
      assertEquals(decodeMuxFrame(wire.slice(0, n)), null, `${name}: prefix of ${n} bytes`);
    }
  }
});

Deno.test("decodeMuxFrame reads one frame of a stream and reports where the next starts", () => {
  const stream = bytes(...vectors.map(([, , wire]) => wire));
  let at = 0;
  for (const [name, value] of vectors) {
    const decoded = decodeMuxFrame(stream.subarray(at));
    assertEquals(decoded?.value, value, name);
    at += decoded!.consumed;
  }
  assertEquals(at, stream.length);
});

Deno.test("decodeMuxFrame ignores unknown option bits and metadata past the fields", () => {
  // V2Ray and Xray read only the fields they know; Xray pads metadata
  const padded = bytes([0, 14, 0, 2, 1, 0, 1, 0x1f, 0x90, 1, 127, 0, 0, 1, 0, 0]);
  assertEquals(decodeMuxFrame(padded)?.value, vectors[1]![1]);
  assertEquals(decodeMuxFrame(padded)?.consumed, 16);
  assertEquals(decodeMuxFrame(bytes([0, 6, 0, 1, 3, 0xf0, 9, 9]))?.value, vectors[8]![1]);
  // an all-zero global id is none, as Xray reads it
  const zeroId = bytes([0, 20, 0, 4, 1, 1, 2, 0, 53, 1, 127, 0, 0, 1], new Array(8).fill(0));
  assertEquals(decodeMuxFrame(bytes(zeroId, [0, 1], "q"))?.value.globalId, undefined);
  // a global id is read only on a New UDP frame with data (Xray's rule)
  const noData = bytes([0, 20, 0, 4, 1, 0, 2, 0, 53, 1, 127, 0, 0, 1, 1, 2, 3, 4, 5, 6, 7, 8]);
  assertEquals(decodeMuxFrame(noData)?.value.globalId, undefined);
  // a Keep's metadata past 4 bytes is an address only when it starts with UDP's network byte
  assertEquals(decodeMuxFrame(bytes([0, 6, 0, 1, 2, 0, 1, 0]))?.value, {
    id: 1,
    status: MuxStatus.keep,
    error: false,
  });
});

Deno.test("decodeMuxFrame takes a domain that spells an address as a host", () => {
  const wire = bytes([0, 16, 0, 1, 1, 0, 1, 0, 80, 2, 7], "1.2.3.4", [0, 0]);
  assertEquals(decodeMuxFrame(wire)?.value.target, { network: "tcp", host: "1.2.3.4", port: 80 });
});

Deno.test("encodeMuxFrame and decodeMuxFrame round-trip", () => {
  const targets = ["example.com", "10.0.0.1", "::1", "2001:db8::42", "ü.example", "a".repeat(255)];
  for (const host of targets) {
    for (const network of ["tcp", "udp"] as const) {
      for (const data of [undefined, new Uint8Array(), bytes("x"), new Uint8Array(0xffff)]) {
        const value: MuxFrame = {
          id: 0xbeef,
          status: MuxStatus.new,
          error: false,
          target: { network, host, port: 65535 },
        };
        if (data) value.data = data;
        const wire = encodeMuxFrame(value);
        assertEquals(decodeMuxFrame(bytes(wire, [0, 4])), { value, consumed: wire.length }, host);
      }
    }
  }
  for (const status of [MuxStatus.keep, MuxStatus.end, MuxStatus.keepAlive]) {
    for (const error of [false, true]) {
      const value: MuxFrame = { id: 12, status, error, data: new Uint8Array(300).fill(7) };
      assertEquals(decodeMuxFrame(encodeMuxFrame(value))?.value, value);
    }
  }
});

Deno.test("decodeMuxFrame refuses unknown statuses", () => {
  for (const status of [0, 5, 0x7f, 0xff]) {
    const wire = bytes([0, 4, 0, 1, status, 0]);
    assertThrows(() => decodeMuxFrame(wire), ProtocolError, "status");
  }
});

Deno.test("decodeMuxFrame refuses unknown networks", () => {
  for (const network of [0, 3, 0xff]) {
    const wire = bytes([0, 12, 0, 1, 1, 0, network, 0, 80, 1, 127, 0, 0, 1]);
    assertThrows(() => decodeMuxFrame(wire), ProtocolError, "network");
  }
});

Deno.test("decodeMuxFrame refuses unknown address types, SOCKS5's IPv6 code included", () => {
  for (const atyp of [0, 4, 5, 0xff]) {
    const wire = bytes([0, 24, 0, 1, 1, 0, 1, 0, 80, atyp], V6);
    assertThrows(() => decodeMuxFrame(wire), ProtocolError, "address type");
  }
});

Deno.test("decodeMuxFrame refuses an empty or non-UTF-8 domain", () => {
  assertThrows(
    () => decodeMuxFrame(bytes([0, 9, 0, 1, 1, 0, 1, 0, 80, 2, 0])),
    ProtocolError,
    "domain",
  );
  assertThrows(
    () => decodeMuxFrame(bytes([0, 12, 0, 1, 1, 0, 1, 0, 80, 2, 3, 0x61, 0xff, 0x62])),
    ProtocolError,
    "UTF-8",
  );
});

Deno.test("decodeMuxFrame refuses metadata too short for its fields", () => {
  // under 4 bytes: no room for ID STATUS OPTION, refused from the length field alone
  for (const length of [0, 1, 2, 3]) {
    assertThrows(() => decodeMuxFrame(bytes([0, length])), ProtocolError, "4 to 512");
  }
  // a New under 8 bytes: no room for NETWORK PORT ATYP and one address byte
  for (const length of [4, 5, 6, 7]) {
    const wire = bytes([0, length, 0, 1, 1, 0], [1, 0, 80, 1].slice(0, length - 4));
    assertThrows(() => decodeMuxFrame(wire), ProtocolError, "8 bytes");
  }
  // an address that runs past the metadata (its bytes would be taken from the data)
  const cut = [
    bytes([0, 11, 0, 1, 1, 0, 1, 0, 80, 1, 127, 0, 0, 0, 1]), // IPv4 one byte short
    bytes([0, 23, 0, 1, 1, 0, 1, 0, 80, 3], V6), // IPv6 one byte short
    bytes([0, 10, 0, 1, 1, 0, 1, 0, 80, 2, 5, 0x61, 0x62, 0x63]), // domain of 5 in 3
    bytes([0, 8, 0, 1, 1, 0, 1, 0, 80, 2, 1]), // the domain's length byte is outside
    bytes([0, 8, 0, 1, 2, 0, 2, 0, 80, 2, 1]), // the same on a UDP Keep
  ];
  for (const wire of cut) assertThrows(() => decodeMuxFrame(wire), ProtocolError, "metadata");
  assertThrows(() => decodeMuxFrame(bytes([0, 6, 0, 1, 2, 0, 2, 0])), ProtocolError, "8 bytes");
});

Deno.test("decodeMuxFrame refuses metadata over 512 bytes from the length field alone", () => {
  for (const length of [513, 0x0400, 0xffff]) {
    assertThrows(() => decodeMuxFrame(bytes([length >> 8, length & 0xff])), ProtocolError, "512");
  }
  // 512 itself is allowed: a New with 500 bytes of padding after its address
  const padded = bytes([2, 0, 0, 1, 1, 0, 1, 0, 80, 1, 127, 0, 0, 1], new Array(500).fill(0));
  assertEquals(decodeMuxFrame(padded)?.consumed, 514);
});

Deno.test("encodeMuxFrame refuses frames no peer could read", () => {
  const tcp = { network: "tcp" as const, host: "example.com", port: 80 };
  const udp = { network: "udp" as const, host: "127.0.0.1", port: 53 };
  const bad: [string, MuxFrame, string][] = [
    ["New without a target", { id: 1, status: MuxStatus.new, error: false }, "target"],
    ["End with a target", { id: 1, status: MuxStatus.end, error: false, target: udp }, "target"],
    [
      "Keep with a TCP target",
      { id: 1, status: MuxStatus.keep, error: false, target: tcp },
      "target",
    ],
    [
      "global id on TCP",
      {
        id: 1,
        status: MuxStatus.new,
        error: false,
        target: tcp,
        globalId: new Uint8Array(8),
        data: bytes("x"),
      },
      "global id",
    ],
    [
      "global id without data",
      { id: 1, status: MuxStatus.new, error: false, target: udp, globalId: new Uint8Array(8) },
      "global id",
    ],
    [
      "global id of 7 bytes",
      {
        id: 1,
        status: MuxStatus.new,
        error: false,
        target: udp,
        globalId: new Uint8Array(7),
        data: bytes("x"),
      },
      "global id",
    ],
    [
      "data over 65535 bytes",
      { id: 1, status: MuxStatus.keep, error: false, data: new Uint8Array(0x10000) },
      "65535",
    ],
    ["id over 65535", { id: 0x10000, status: MuxStatus.end, error: false }, "id"],
    ["negative id", { id: -1, status: MuxStatus.end, error: false }, "id"],
    [
      "port out of range",
      { id: 1, status: MuxStatus.new, error: false, target: { ...tcp, port: 65536 } },
      "port",
    ],
    [
      "domain over 255 bytes",
      { id: 1, status: MuxStatus.new, error: false, target: { ...tcp, host: "a".repeat(256) } },
      "domain",
    ],
  ];
  for (const [name, frame, message] of bad) {
    const error = assertThrows(() => encodeMuxFrame(frame), ProtocolError);
    assertEquals(error.message.includes(message), true, `${name}: ${error.message}`);
  }
});
