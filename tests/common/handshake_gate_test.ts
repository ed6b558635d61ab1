/** The gate before login: one source's flood evicts its own oldest, not other sources. */
import { assertEquals } from "../_assert.ts";
import { HandshakeGate, HANDSHAKING_PER_SOURCE } from "../../lib/common/net/handshake_gate.ts";

function conn(name: string, closed: string[]) {
  return { close: () => closed.push(name) };
}

Deno.test("gate: a source past its cap closes its own oldest connection, not others'", () => {
  const closed: string[] = [];
  const gate = new HandshakeGate(100, 2);
  const other = conn("other", closed);
  gate.enter(other, "192.0.2.9");
  for (const name of ["a", "b", "c", "d"]) gate.enter(conn(name, closed), "192.0.2.1");
  assertEquals(closed, ["a", "b"]);
  assertEquals(gate.size, 3);
  gate.leave(other);
  gate.leave(other);
  assertEquals(gate.size, 2);
});

Deno.test("gate: an IPv6 /64 counts as one source, an IPv4-mapped address as its IPv4", () => {
  const closed: string[] = [];
  const gate = new HandshakeGate(0, 1);
  gate.enter(conn("first", closed), "2001:db8::1");
  gate.enter(conn("same /64", closed), "2001:db8::ffff:2");
  gate.enter(conn("v4", closed), "::ffff:192.0.2.1");
  gate.enter(conn("v4 again", closed), "192.0.2.1");
  assertEquals(closed, ["first", "v4"]);
});

Deno.test("gate: shed closes the oldest waiting connections", () => {
  const closed: string[] = [];
  const gate = new HandshakeGate(0);
  for (const name of ["a", "b", "c"]) gate.enter(conn(name, closed));
  assertEquals(gate.shed(2), 2);
  assertEquals(closed, ["a", "b"]);
  assertEquals(gate.shed(5), 1);
  assertEquals(gate.size, 0);
});

Deno.test("gate: a source that logged in may have more TLS handshakes at once, still capped", () => {
  const closed: string[] = [];
  const gate = new HandshakeGate(10_000, 64);
  gate.loggedIn("192.0.2.1");
  const user = (i: number) => gate.enterHandshaking(conn(`user ${i}`, closed), "192.0.2.1");
  for (let i = 0; i < HANDSHAKING_PER_SOURCE; i++) user(i);
  for (let i = 0; i < 65; i++) gate.enterHandshaking(conn(`stranger ${i}`, closed), "192.0.2.2");
  assertEquals(closed, ["stranger 0"], "a stranger's handshakes count against its 64");
  for (let i = 0; i < 64; i++) gate.enter(conn(`header ${i}`, closed), "192.0.2.1");
  assertEquals(closed, ["stranger 0"], "past the allowance, the user's address has its 64");
  user(HANDSHAKING_PER_SOURCE);
  assertEquals(closed, ["stranger 0", "header 0"], "and then its oldest counted one makes room");
  assertEquals(gate.size, HANDSHAKING_PER_SOURCE + 64 + 64);
});
