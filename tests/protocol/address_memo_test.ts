import { encodeAddress } from "../../lib/protocol/address.ts";
import { AddressDecoder } from "../../lib/protocol/address_memo.ts";
import { ProtocolError } from "../../lib/protocol/errors.ts";
import { assertEquals, assertThrows, bytes } from "../_assert.ts";

Deno.test("AddressDecoder decodes a repeated address once and a new one afresh", () => {
  const decoder = new AddressDecoder();
  const wire = encodeAddress({ host: "127.0.0.1", port: 53 });
  const first = decoder.decode(wire);
  assertEquals(first, { host: "127.0.0.1", port: 53 });
  // The bytes are remembered as a copy: a reused receive buffer cannot change the answer.
  const again = wire.slice();
  wire.fill(0);
  assertEquals(decoder.decode(again) === first, true);
  assertEquals(decoder.decode(encodeAddress({ host: "::1", port: 53 })), { host: "::1", port: 53 });
  assertEquals(decoder.decode(encodeAddress({ host: "localhost", port: 9 })), {
    host: "localhost",
    port: 9,
  });
});

Deno.test("AddressDecoder refuses a domain that is not UTF-8, as decodeAddress does", () => {
  const decoder = new AddressDecoder();
  assertThrows(() => decoder.decode(bytes([3, 2, 0xff, 0xfe, 0, 53])), ProtocolError, "UTF-8");
  assertThrows(() => decoder.decode(bytes([1, 127, 0, 0])), RangeError, "whole address");
});
