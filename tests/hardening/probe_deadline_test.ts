/**
 * A prober that sends nothing, or bytes that could still become a header, is relayed to the
 * fallback site at the handshake deadline with what it sent, instead of being closed at
 * exactly that moment (which a web site would never do). A user's token that arrives after
 * the deadline still never reaches the site.
 */
import { assert, assertEquals } from "../_assert.ts";
import { InProcessRemote } from "../_inprocess.ts";
import { startFallbackSite } from "./_helpers.ts";
import { TlsProbe } from "./_tls_client.ts";
import { trojanToken } from "../../lib/protocol/trojan.ts";

const DEADLINE_MS = 800;
const GET = "GET / HTTP/1.1\r\nHost: x\r\n\r\n";
const HEX56 = "0123456789abcdef".repeat(4).slice(0, 56);

Deno.test("probe at the deadline: silence, 30 hex, 56 hex + CRLF, a partial header all reach the site", async (t) => {
  const site = startFallbackSite();
  const remote = await InProcessRemote.start(undefined, {
    fallback: { host: "127.0.0.1", port: site.port },
    handshakeTimeoutMs: DEADLINE_MS,
  });
  try {
    const cases: [string, string][] = [
      ["no data", ""],
      ["30 hex digits", HEX56.slice(0, 30)],
      ["56 hex digits + CRLF", `${HEX56}\r\n`],
      ["a partial header", `${HEX56}\r\n\x01\x03\x09exam`],
    ];
    for (const [name, sent] of cases) {
      await t.step(name, async () => {
        const before = site.received.length;
        const probe = await TlsProbe.open(remote);
        if (sent) probe.send(sent);
        const relayed = await probe.until(() => site.received.length > before, 3 * DEADLINE_MS);
        assert(relayed, "the site never saw the connection");
        assert(!probe.closed, `closed at ${probe.closedAfterMs} ms instead of relayed`);
        // From here the prober talks to the site, as with any web server. (Up to 56 hex digits
        // wait for the next byte: they might still be the start of a user's token.)
        probe.send(GET);
        assert(await probe.until(() => probe.text.includes("Welcome to nginx!")), probe.text);
        assertEquals(new TextDecoder().decode(site.received[before]), sent + GET);
        probe.close();
      });
    }

    await t.step(
      "a token that comes after the deadline reaches the site as random hex",
      async () => {
        const token = trojanToken("alice:alice-secret");
        const before = site.received.length;
        const probe = await TlsProbe.open(remote);
        probe.send(token.slice(0, 30));
        assert(await probe.until(() => site.received.length > before, 3 * DEADLINE_MS), "relayed");
        probe.send(`${token.slice(30)}\r\n\x01\x01\x7f\x00\x00\x01\x00\x09\r\n${GET}`);
        assert(await probe.until(() => probe.text.includes("Welcome to nginx!")), probe.text);
        const got = new TextDecoder().decode(site.received[before]);
        assert(!got.includes(token.slice(0, 30)), `the token reached the site: ${got}`);
        assert(/^[0-9a-f]{56}\r\n/.test(got) && got.endsWith(GET), got);
        probe.close();
      },
    );
  } finally {
    await remote.stop();
    site.close();
  }
});
