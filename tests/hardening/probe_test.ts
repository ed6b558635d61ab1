/** Probe resistance: a remote looks like its fallback web site to anyone without a key. */
import { assert, assertEquals } from "../_assert.ts";
import { curl } from "../_harness.ts";
import { InProcessRemote } from "../_inprocess.ts";
import { startFallbackSite, trojan } from "./_helpers.ts";

const text = new TextEncoder();

Deno.test("probe: curl -k https://remote/ and a wrong key both get the fallback site", async () => {
  const site = startFallbackSite();
  const remote = await InProcessRemote.start(undefined, {
    fallback: { host: "127.0.0.1", port: site.port },
  });
  try {
    const page = await curl("-k", `https://127.0.0.1:${remote.port}/`);
    assertEquals(page.code, 0, page.stderr);
    assert(new TextDecoder().decode(page.body).includes("Welcome to nginx!"), "the site's page");

    const request = text.encode("GET / HTTP/1.1\r\nHost: x\r\n\r\n");
    const wrong = await trojan(remote, {
      credential: "alice:not-the-password",
      destination: { host: "127.0.0.1", port: 1 },
      payload: request,
    });
    const reply = new TextDecoder().decode(wrong.bytes);
    assert(reply.startsWith("HTTP/1.1 200 OK\r\nServer: nginx"), `the site answered: ${reply}`);
    // Every byte the prober sent reached the site, the ones the remote had read included.
    const got = site.received.at(-1)!;
    assert(got.length > 56 + request.length, `the site got ${got.length} bytes`);
    assertEquals(
      new TextDecoder().decode(got.subarray(got.length - request.length)),
      "GET / HTTP/1.1\r\nHost: x\r\n\r\n",
    );

    const garbage = await trojan(remote, {
      credential: "",
      destination: { host: "x", port: 1 },
      raw: text.encode("\x16\x03\x01 garbage\r\n\r\n"),
    });
    assert(new TextDecoder().decode(garbage.bytes).includes("Welcome to nginx!"), "garbage too");

    // The real key still gets a tunnel, to the site here as a destination.
    const honest = await trojan(remote, {
      credential: "alice:alice-secret",
      destination: { host: "127.0.0.1", port: site.port },
      payload: request,
    });
    assert(new TextDecoder().decode(honest.bytes).includes("Welcome to nginx!"), "tunnel works");
  } finally {
    await remote.stop();
    site.close();
  }
});

Deno.test("probe: without --fallback a bad header is closed after a short random delay", async () => {
  const remote = await InProcessRemote.start();
  try {
    const times: number[] = [];
    for (let i = 0; i < 4; i++) {
      const reply = await trojan(remote, {
        credential: "alice:wrong",
        destination: { host: "127.0.0.1", port: 1 },
      });
      assert(reply.closed, "the remote closed the connection");
      assertEquals(reply.bytes.length, 0);
      times.push(reply.ms);
    }
    // 100–500 ms after the header, plus the TLS handshake; loose for a busy machine.
    assert(times.every((ms) => ms >= 100 && ms < 3_000), `close times ${times}`);
  } finally {
    await remote.stop();
  }
});
