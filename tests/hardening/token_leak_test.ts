/**
 * A user's token never reaches the fallback site's access log: not a correct login from a
 * source cooling off, not an old token after `user passwd`, not a known token in a header that
 * is broken after it. The site gets random hex digits in its place, so a prober still sees the
 * site's own answer, exactly as for a wrong key.
 */
import { assert, assertEquals } from "../_assert.ts";
import { delay } from "../_harness.ts";
import { InProcessRemote } from "../_inprocess.ts";
import { startFallbackSite, trojan } from "./_helpers.ts";
import { TlsProbe } from "./_tls_client.ts";
import { inProcessLink } from "../remote/_share.ts";
import { trojanToken } from "../../lib/protocol/trojan.ts";

const text = new TextEncoder();
const request = text.encode("GET / HTTP/1.1\r\nHost: x\r\n\r\n");
const ORIGIN = { host: "127.0.0.1", port: 9 };

function sentToSite(site: { received: Uint8Array[] }): string {
  return site.received.map((bytes) => new TextDecoder().decode(bytes)).join("\n");
}

Deno.test("token leak: a correct login while cooling off reaches the site only as random hex", async () => {
  const site = startFallbackSite();
  const remote = await InProcessRemote.start(undefined, {
    fallback: { host: "127.0.0.1", port: site.port },
    authGuard: { limit: 2, coolOffMs: 60_000 },
  });
  try {
    for (let i = 0; i < 3; i++) {
      await trojan(remote, {
        credential: `alice:guess-${i}`,
        destination: ORIGIN,
        payload: request,
        localAddress: "127.0.0.1",
      });
    }
    const before = site.received.length;
    const right = await trojan(remote, {
      credential: "alice:alice-secret",
      destination: ORIGIN,
      payload: request,
      localAddress: "127.0.0.1",
    });
    // Refused like a wrong key: the prober gets the site's page, as before.
    assert(new TextDecoder().decode(right.bytes).includes("Welcome to nginx!"), "site's page");
    assertEquals(site.received.length, before + 1, "the site saw the connection");
    const got = new TextDecoder().decode(site.received.at(-1)!);
    assert(!sentToSite(site).includes(trojanToken("alice:alice-secret")), "the token leaked");
    assert(/^[0-9a-f]{56}\r\n/.test(got), `random hex in the token's place: ${got.slice(0, 60)}`);
    assert(got.endsWith("GET / HTTP/1.1\r\nHost: x\r\n\r\n"), "the rest is relayed unchanged");
    // Wrong keys still reach the site as they came (it is their own business).
    assert(sentToSite(site).includes(trojanToken("alice:guess-0")), "a wrong key is relayed");
  } finally {
    await remote.stop();
    site.close();
  }
});

Deno.test("token leak: an old token after user passwd, and a known token in a broken header", async () => {
  const site = startFallbackSite();
  const remote = await InProcessRemote.start(undefined, {
    fallback: { host: "127.0.0.1", port: site.port },
  });
  try {
    await remote.user("passwd", "alice", "--password", "the-new-secret");
    // The server picks the change up within a second.
    let old;
    for (let i = 0; i < 30; i++) {
      old = await trojan(remote, {
        credential: "alice:alice-secret",
        destination: { host: "status.swiftproxy.invalid", port: 1 },
        payload: request,
      });
      if (new TextDecoder().decode(old.bytes).includes("nginx")) break;
      await delay(100);
    }
    assert(new TextDecoder().decode(old!.bytes).includes("Welcome to nginx!"), "old key refused");

    // The current key with a command the server does not know (the header breaks after it).
    const broken = text.encode(`${trojanToken("alice:the-new-secret")}\r\n\x09\x01`);
    const reply = await trojan(remote, {
      credential: "",
      destination: ORIGIN,
      raw: new Uint8Array([...broken, ...text.encode("\r\n"), ...request]),
    });
    assert(new TextDecoder().decode(reply.bytes).includes("Welcome to nginx!"), "site's page");

    const all = sentToSite(site);
    assert(!all.includes(trojanToken("alice:alice-secret")), "the old token leaked");
    assert(!all.includes(trojanToken("alice:the-new-secret")), "the current token leaked");
  } finally {
    await remote.stop();
    site.close();
  }
});

Deno.test("token leak: a subscription request stalled past the handshake deadline reaches the site without its token", async (t) => {
  const site = startFallbackSite();
  const remote = await InProcessRemote.start(undefined, {
    fallback: { host: "127.0.0.1", port: site.port },
    handshakeTimeoutMs: 600,
  });
  try {
    const { token } = await inProcessLink(remote, "alice");
    const cases: [string, string, string][] = [
      ["a head without its last CRLF", `GET /sub/${token} HTTP/1.1\r\nHost: x\r\n`, "\r\n"],
      [
        "a token cut by the deadline",
        `GET /sub/${token.slice(0, 12)}`,
        `${token.slice(12)}/clash HTTP/1.1\r\nHost: x\r\n\r\n`,
      ],
      [
        "a second request on a kept-alive connection",
        "GET / HTTP/1.1\r\nHost: x\r\n",
        `Referer: https://x/sub/${token}\r\n\r\nGET /sub/${token} HTTP/1.1\r\nHost: x\r\n\r\n`,
      ],
    ];
    for (const [name, first, rest] of cases) {
      await t.step(name, async () => {
        const before = site.received.length;
        const probe = await TlsProbe.open(remote);
        probe.send(first);
        assert(await probe.until(() => site.received.length > before, 3_000), "relayed");
        probe.send(rest);
        assert(await probe.until(() => probe.text.includes("Welcome to nginx!")), probe.text);
        const got = new TextDecoder().decode(site.received[before]);
        for (const piece of [token.slice(0, 12), token.slice(12, 24), token.slice(24)]) {
          assert(!got.includes(piece), `the token reached the site: ${got}`);
        }
        assert(got.startsWith(first.slice(0, 9)), `the request still reads as sent: ${got}`);
        probe.close();
      });
    }
    assert(!remote.program.output.includes(token), "the token is never logged");
  } finally {
    await remote.stop();
    site.close();
  }
});
