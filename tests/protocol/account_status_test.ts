import { assertEquals } from "../_assert.ts";
import {
  decodeAccountStatus,
  encodeAccountStatus,
  isStatusDestination,
} from "../../lib/protocol/account_status.ts";
import type { AccountStatus } from "../../lib/protocol/account_status.ts";

const status: AccountStatus = {
  server: "swiftproxy",
  version: "1.2.3",
  user: "alice",
  limits: { up: 0, down: 2097152, quota: 0, maxConns: 4 },
  usage: { up: 10, down: 20 },
  expiresAt: null,
  openConnections: 1,
};

Deno.test("account status: one JSON line that decodes to the same document", () => {
  const bytes = encodeAccountStatus(status);
  assertEquals(bytes.at(-1), 0x0a);
  assertEquals(new TextDecoder().decode(bytes).split("\n").length, 2);
  assertEquals(decodeAccountStatus(bytes), status);
});

Deno.test("account status: anything else is not a status document", () => {
  const text = (s: string) => new TextEncoder().encode(s);
  assertEquals(decodeAccountStatus(text("HTTP/1.1 400 Bad Request\r\n\r\n")), null);
  assertEquals(decodeAccountStatus(text('{"server":"nginx","user":"a"}\n')), null);
  assertEquals(decodeAccountStatus(text('{"server":"swiftproxy","user":"a"}\n')), null);
  assertEquals(decodeAccountStatus(new Uint8Array()), null);
});

Deno.test("account status: only status.swiftproxy.invalid port 1 is the status destination", () => {
  assertEquals(isStatusDestination({ host: "status.swiftproxy.invalid", port: 1 }), true);
  assertEquals(isStatusDestination({ host: "status.swiftproxy.invalid", port: 443 }), false);
  assertEquals(isStatusDestination({ host: "example.org", port: 1 }), false);
});
