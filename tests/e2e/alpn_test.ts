/**
 * ALPN as a web browser and a web site have it: the local's hello offers `h2` and `http/1.1`,
 * and the remote selects what its fallback site speaks (`http/1.1` for a plain TCP site), so a
 * probe offering both gets `http/1.1` and the site's own page. Trojan clients that offer ALPN
 * (V2Ray, Debian's trojan) are covered by trojan_interop_test.ts and share_link_test.ts.
 */
import { assert, assertEquals } from "../_assert.ts";
import { curl, freePort, localArgs, Program } from "../_harness.ts";
import { InProcessRemote } from "../_inprocess.ts";
import { startFallbackSite } from "../hardening/_helpers.ts";
import { catchHellos } from "../_client_hello.ts";

Deno.test("the local's TLS hello offers h2 and http/1.1, as browsers do", async () => {
  const catcher = catchHellos();
  const remote = await InProcessRemote.start();
  const port = freePort();
  const local = new Program(
    localArgs(
      "--listen",
      `127.0.0.1:${port}`,
      "--no-ui",
      "--remote",
      `127.0.0.1:${catcher.port}`,
      "--user",
      "alice",
      "--ca",
      remote.certPath,
    ),
    { env: { SWIFTPROXY_PASSWORD: "alice-secret", HOME: remote.dir } },
  );
  try {
    await local.waitFor(/proxy listening/);
    const tried = curl("--socks5-hostname", `127.0.0.1:${port}`, "-m", "2", "http://a.example/");
    const hello = await catcher.next().catch((error) => {
      throw new Error(`${error.message}; the local said: ${local.output}`);
    });
    assertEquals(hello.alpn, ["h2", "http/1.1"]);
    assertEquals(hello.sni, undefined, "an IP address is not sent as a server name");
    assert((await tried).code !== 0, "nothing answered the tunnel");
  } finally {
    await local.stop();
    await remote.stop();
    catcher.close();
  }
});

Deno.test("a probe offering h2 and http/1.1 gets http/1.1 and the fallback site's page", async () => {
  const site = startFallbackSite();
  const remote = await InProcessRemote.start(undefined, {
    fallback: { host: "127.0.0.1", port: site.port },
  });
  try {
    for (const offered of ["h2,http/1.1", "http/1.1"]) {
      const out = await new Deno.Command("openssl", {
        args: [
          "s_client",
          "-connect",
          `127.0.0.1:${remote.port}`,
          "-servername",
          "localhost",
          "-alpn",
          offered,
          "-ign_eof",
        ],
        stdin: "piped",
        stdout: "piped",
        stderr: "piped",
      }).spawn();
      const writer = out.stdin.getWriter();
      await writer.write(new TextEncoder().encode("GET / HTTP/1.1\r\nHost: localhost\r\n\r\n"));
      await writer.close();
      const result = await out.output();
      const text = new TextDecoder().decode(result.stdout);
      assert(/^ALPN protocol: http\/1\.1$/m.test(text), `${offered}: ${text.slice(0, 2000)}`);
      assert(text.includes("Welcome to nginx!"), `${offered}: the site's page`);
    }
  } finally {
    await remote.stop();
    site.close();
  }
});
