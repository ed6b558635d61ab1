import {
  decodeTrojanHeader,
  encodeTrojanHeader,
  TOKEN_LENGTH,
  TrojanCommand,
  trojanToken,
} from "../../lib/protocol/trojan.ts";
import type { TrojanHeader } from "../../lib/protocol/trojan.ts";
import { ProtocolError } from "../../lib/protocol/errors.ts";
import { assert, assertEquals, assertThrows, bytes } from "../_assert.ts";

// Computed independently:
//   printf 'a:b' | openssl dgst -sha224
//   python3 -c "import hashlib; print(hashlib.sha224('dé:mo€'.encode()).hexdigest())"
const TOKEN_A_B = "34ee68c7be3ec1629877320aaf98ad9025826c976a7d9c41a5a061aa";
const TOKEN_EMPTY = "d14a028c2a3a2bc9476102bb288234c415a2b01f828ea62ac5b3e42f";
const TOKEN_UTF8 = "1b5b01137bc03ea02f80375d70d8f4c3ab65e653345ad20323be7e4b";

const CRLF = [0x0d, 0x0a];

Deno.test("trojanToken is the hex SHA-224 of the credential", () => {
  assertEquals(TOKEN_LENGTH, 56);
  assertEquals(trojanToken("a:b"), TOKEN_A_B);
  assertEquals(trojanToken(""), TOKEN_EMPTY);
  // the credential is hashed as UTF-8
  assertEquals(trojanToken("dé:mo€"), TOKEN_UTF8);
  const token = trojanToken("demo:secret");
  assertEquals(token.length, TOKEN_LENGTH);
  assert(/^[0-9a-f]{56}$/.test(token), token);
  assert(trojanToken("a:b") !== trojanToken("a:c"));
});

const header = (host: string, port: number, command: number = TrojanCommand.connect) => ({
  token: TOKEN_A_B,
  command,
  destination: { host, port },
});

const vectors: [string, TrojanHeader, Uint8Array][] = [
  [
    "CONNECT domain",
    header("example.com", 443),
    bytes(TOKEN_A_B, CRLF, [1, 3, 11], "example.com", [0x01, 0xbb], CRLF),
  ],
  [
    "CONNECT IPv4",
    header("1.2.3.4", 80),
    bytes(TOKEN_A_B, CRLF, [1, 1, 1, 2, 3, 4, 0, 80], CRLF),
  ],
  [
    "CONNECT IPv6",
    header("::1", 22),
    bytes(TOKEN_A_B, CRLF, [1, 4], new Array(15).fill(0), [1], [0, 22], CRLF),
  ],
  [
    "UDP ASSOCIATE",
    header("8.8.8.8", 53, TrojanCommand.udpAssociate),
    bytes(TOKEN_A_B, CRLF, [3, 1, 8, 8, 8, 8, 0, 53], CRLF),
  ],
  [
    "status destination",
    header("status.swiftproxy.invalid", 1),
    bytes(TOKEN_A_B, CRLF, [1, 3, 25], "status.swiftproxy.invalid", [0, 1], CRLF),
  ],
];

Deno.test("encodeTrojanHeader writes the byte vectors", () => {
  assertEquals(TrojanCommand, { connect: 1, udpAssociate: 3 });
  for (const [name, value, wire] of vectors) assertEquals(encodeTrojanHeader(value), wire, name);
});

Deno.test("decodeTrojanHeader reads the byte vectors", () => {
  for (const [name, value, wire] of vectors) {
    assertEquals(decodeTrojanHeader(wire), { value, consumed: wire.length }, name);
  }
});

Deno.test("encodeTrojanHeader appends the payload for one write", () => {
  const payload = bytes("GET / HTTP/1.1\r\nHost: example.com\r\n\r\n");
  const [, value, wire] = vectors[0]!;
  const out = encodeTrojanHeader(value, payload);
  assertEquals(out, bytes(wire, payload));
  assertEquals(encodeTrojanHeader(value, new Uint8Array()), wire);
});

Deno.test("decodeTrojanHeader reports consumed up to the payload", () => {
  for (const [name, value, wire] of vectors) {
    for (const payload of [bytes([0]), bytes("SSH-2.0-x\r\n"), bytes(CRLF), new Uint8Array(5000)]) {
      const decoded = decodeTrojanHeader(bytes(wire, payload));
      assertEquals(decoded, { value, consumed: wire.length }, name);
      assertEquals(bytes(wire, payload).subarray(decoded!.consumed), payload, name);
    }
  }
});

Deno.test("decodeTrojanHeader returns null at every truncated prefix", () => {
  for (const [name, , wire] of vectors) {
    for (let n = 0; n < wire.length; n++) {
      assertEquals(decodeTrojanHeader(wire.slice(0, n)), null, `${name}: prefix of ${n} bytes`);
    }
  }
});

Deno.test("encodeTrojanHeader and decodeTrojanHeader round-trip", () => {
  for (const credential of ["a:b", "demo:secret", "ü:🔑"]) {
    for (const host of ["example.com", "10.0.0.1", "2001:db8::42", "a".repeat(255)]) {
      for (const command of [TrojanCommand.connect, TrojanCommand.udpAssociate]) {
        const value = {
          token: trojanToken(credential),
          command,
          destination: { host, port: 8443 },
        };
        const wire = encodeTrojanHeader(value, bytes("x"));
        assertEquals(decodeTrojanHeader(wire), { value, consumed: wire.length - 1 });
      }
    }
  }
});

Deno.test("decodeTrojanHeader refuses a non-hex token as soon as it arrives", () => {
  const [, , wire] = vectors[0]!;
  for (
    const [offset, byte] of [[0, 0x47], [10, 0x67], [55, 0x20], [30, 0x0d], [0, 0x16]] as const
  ) {
    const bad = wire.slice();
    bad[offset] = byte;
    assertThrows(() => decodeTrojanHeader(bad), ProtocolError, "hex");
    // refused with only the bytes up to the bad one, not after 60
    assertThrows(() => decodeTrojanHeader(bad.slice(0, offset + 1)), ProtocolError, "hex");
  }
});

Deno.test("decodeTrojanHeader refuses uppercase hex", () => {
  const wire = bytes(TOKEN_A_B.toUpperCase(), CRLF, [1, 1, 1, 2, 3, 4, 0, 80], CRLF);
  assertThrows(() => decodeTrojanHeader(wire), ProtocolError, "hex");
});

Deno.test("decodeTrojanHeader refuses what a prober or TLS client sends", () => {
  // these go to the fallback: each must be refused, never answered as a proxy
  const probes = [
    "GET / HTTP/1.1\r\nHost: example.com\r\n\r\n",
    "\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03",
    "\x05\x01\x00",
    "SSH-2.0-OpenSSH_9.6\r\n",
  ];
  for (const probe of probes) assertThrows(() => decodeTrojanHeader(bytes(probe)), ProtocolError);
});

Deno.test("decodeTrojanHeader refuses a short token followed by CRLF", () => {
  const wire = bytes(TOKEN_A_B.slice(0, 40), CRLF, [1, 1, 1, 2, 3, 4, 0, 80], CRLF);
  assertThrows(() => decodeTrojanHeader(wire), ProtocolError, "hex");
});

Deno.test("decodeTrojanHeader refuses a missing CRLF after the token", () => {
  for (const crlf of [[0x0a, 0x0d], [0x0d, 0x0d], [0x0a, 0x0a], [0x20, 0x20], [0x01, 0x01]]) {
    const wire = bytes(TOKEN_A_B, crlf, [1, 1, 1, 2, 3, 4, 0, 80], CRLF);
    assertThrows(() => decodeTrojanHeader(wire), ProtocolError, "CRLF");
  }
  // the command byte where the CR should be: LF alone
  const lfOnly = bytes(TOKEN_A_B, [0x0a], [1, 1, 1, 2, 3, 4, 0, 80], CRLF);
  assertThrows(() => decodeTrojanHeader(lfOnly), ProtocolError);
  // a 57th hex digit
  const longToken = bytes(TOKEN_A_B, "a", CRLF, [1, 1, 1, 2, 3, 4, 0, 80], CRLF);
  assertThrows(() => decodeTrojanHeader(longToken), ProtocolError);
});

Deno.test("decodeTrojanHeader refuses a missing CRLF after the destination", () => {
  for (const crlf of [[0x0a, 0x0d], [0x0d, 0x00], [0x00, 0x0a], [0x47, 0x45]]) {
    const wire = bytes(TOKEN_A_B, CRLF, [1, 1, 1, 2, 3, 4, 0, 80], crlf);
    assertThrows(() => decodeTrojanHeader(wire), ProtocolError, "CRLF after the destination");
  }
  // payload straight after the port
  const noCrlf = bytes(TOKEN_A_B, CRLF, [1, 3, 1], "a", [0, 80], "GET / HTTP/1.1\r\n");
  assertThrows(() => decodeTrojanHeader(noCrlf), ProtocolError);
});

Deno.test("decodeTrojanHeader refuses commands other than CONNECT and UDP ASSOCIATE", () => {
  for (const command of [0, 2, 4, 5, 0x7f, 0xff]) {
    const wire = bytes(TOKEN_A_B, CRLF, [command, 1, 1, 2, 3, 4, 0, 80], CRLF);
    assertThrows(() => decodeTrojanHeader(wire), ProtocolError, "command");
  }
});

Deno.test("decodeTrojanHeader refuses unknown address types with code 0x08", () => {
  for (const atyp of [0, 2, 5, 0xff]) {
    const wire = bytes(TOKEN_A_B, CRLF, [1, atyp, 1, 2, 3, 4, 0, 80], CRLF);
    const error = assertThrows(() => decodeTrojanHeader(wire), ProtocolError);
    assertEquals(error.code, 0x08);
  }
});

Deno.test("decodeTrojanHeader refuses an empty domain", () => {
  const wire = bytes(TOKEN_A_B, CRLF, [1, 3, 0, 0, 80], CRLF);
  assertThrows(() => decodeTrojanHeader(wire), ProtocolError);
});
