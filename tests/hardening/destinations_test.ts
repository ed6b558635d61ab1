/** Destinations: the private-range refusal checks resolved addresses, in every spelling. */
import { assert, assertEquals } from "../_assert.ts";
import { curl, delay, LocalFixture, RemoteFixture } from "../_harness.ts";
import { dial, DialError } from "../../lib/remote/egress/destination.ts";
import type { DestinationPolicy } from "../../lib/remote/egress/destination.ts";
import { parseCidr } from "../../lib/common/security/cidr.ts";
import { serveStrict, trojan } from "./_helpers.ts";

/** Every spelling the issue lists, plus a few more that reach the server itself. */
const FORMS = [
  "localhost",
  "vm", // this machine's name, 127.0.0.1 in /etc/hosts
  "127.0.0.1",
  "::ffff:127.0.0.1",
  "0.0.0.0",
  "::",
  "::1",
  "2130706433",
  "0177.0.0.1",
  "0x7f.1",
  "169.254.169.254",
  "10.1.2.3",
  "192.168.1.1",
  "fc00::1",
  "fd12:3456::1",
  "fe80::1",
  "64:ff9b::7f00:1", // NAT64 form of 127.0.0.1
  "2002:7f00:1::1", // 6to4 form of 127.0.0.1
  "::ffff:0:7f00:1", // IPv4-translated (::ffff:0:0:0/96) form of 127.0.0.1
  "::ffff:0:a9fe:a9fe", // the metadata address 169.254.169.254 in that form
  "fec0::1", // site-local
];

const STRICT: DestinationPolicy = { allowPrivate: false, allow: [], deny: [] };

Deno.test("destinations: each form is refused by the policy before any connect", async () => {
  for (const host of FORMS) {
    const started = performance.now();
    let kind = "connected";
    try {
      (await dial({ host, port: 9 }, STRICT)).close();
    } catch (error) {
      kind = error instanceof DialError ? error.kind : String(error);
    }
    // "not-allowed" is thrown before Deno.connect; a dial to 169.254.169.254 or fc00::1 would
    // instead hang or fail as "unreachable".
    assertEquals(kind, "not-allowed", host);
    assert(performance.now() - started < 2_000, `${host} answered at once`);
  }
  const loopback = { ...STRICT, allow: [parseCidr("127.0.0.1/32")] };
  let kind = "";
  try {
    await dial({ host: "localhost", port: 9 }, { ...loopback, deny: [] });
  } catch (error) {
    kind = (error as DialError).kind;
  }
  assertEquals(kind, "refused", "--allow 127.0.0.1/32 lets the dial happen (port 9 is closed)");
});

/** A loopback TCP server on both 127.0.0.1 and ::1 that counts connections. */
function countingOrigin() {
  const v4 = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const v6 = Deno.listen({ hostname: "::1", port: v4.addr.port });
  const origin = { port: v4.addr.port, accepted: 0 };
  for (const listener of [v4, v6]) {
    (async () => {
      for await (const conn of listener) {
        origin.accepted++;
        await conn.write(new TextEncoder().encode("HTTP/1.0 200 OK\r\n\r\nreached\n"))
          .catch(() => {});
        conn.close();
      }
    })().catch(() => {});
  }
  return {
    ...origin,
    get accepted() {
      return origin.accepted;
    },
    close: () => [v4, v6].forEach((l) => l.close()),
  };
}

Deno.test("destinations: a real remote refuses them all without --allow-private", async () => {
  const origin = countingOrigin();
  const remote = await RemoteFixture.start();
  try {
    await serveStrict(remote);
    for (const host of FORMS) {
      const reply = await trojan(remote, {
        credential: "alice:alice-secret",
        destination: { host, port: origin.port },
        payload: new TextEncoder().encode("GET / HTTP/1.0\r\n\r\n"),
      });
      assertEquals(reply.bytes.length, 0, `${host} got bytes`);
      assert(reply.closed, `${host} closed`);
    }
    assertEquals(origin.accepted, 0, "nothing reached the origin");
    // One access line per refusal (log lines may trail the closes a little on a busy machine).
    const refusals = () => remote.program.output.match(/closed: not-allowed/g)?.length ?? 0;
    for (let i = 0; i < 50 && refusals() < FORMS.length; i++) await delay(100);
    assertEquals(refusals(), FORMS.length, remote.program.output);

    // Through a local and curl, like a user: socks5h and an HTTP proxy.
    const local = await LocalFixture.start(remote);
    try {
      const socks = await curl(
        "-x",
        `socks5h://${local.address}`,
        `http://localhost:${origin.port}/`,
      );
      assert(socks.code !== 0 && socks.body.length === 0, `socks5h: ${socks.code}`);
      const http = await curl("-x", `http://${local.address}`, `http://2130706433:${origin.port}/`);
      assert(!new TextDecoder().decode(http.body).includes("reached"), "http proxy refused");
      // "[::]" as a user types it: an IPv6 literal in brackets, sent as address "::".
      const brackets = await curl("-x", `http://${local.address}`, `http://[::]:${origin.port}/`);
      assert(!new TextDecoder().decode(brackets.body).includes("reached"), "[::] refused");
      assertEquals(origin.accepted, 0);
    } finally {
      await local.stop();
    }

    // --allow opens one range; --deny closes one even with --allow-private.
    await serveStrict(remote, ["--allow", "127.0.0.1/32"]);
    const allowed = await trojan(remote, {
      credential: "alice:alice-secret",
      destination: { host: "localhost", port: origin.port },
    });
    assert(new TextDecoder().decode(allowed.bytes).includes("reached"), "--allow 127.0.0.1/32");
    const stillDenied = await trojan(remote, {
      credential: "alice:alice-secret",
      destination: { host: "::1", port: origin.port },
    });
    assertEquals(stillDenied.bytes.length, 0, "::1 is outside the allowed range");

    await serveStrict(remote, ["--allow-private", "--deny", "127.0.0.0/8"]);
    const denied = await trojan(remote, {
      credential: "alice:alice-secret",
      destination: { host: "::ffff:127.0.0.1", port: origin.port },
    });
    assertEquals(denied.bytes.length, 0, "--deny 127.0.0.0/8 covers the mapped form");
    const v6 = await trojan(remote, {
      credential: "alice:alice-secret",
      destination: { host: "::1", port: origin.port },
    });
    assert(new TextDecoder().decode(v6.bytes).includes("reached"), "--allow-private lets ::1");
    assertEquals(origin.accepted, 2);
  } finally {
    await remote.stop();
    origin.close();
  }
});
