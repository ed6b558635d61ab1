/**
 * The welcome page: `http://welcome.swiftproxy.invalid/` through the real chain (curl over
 * SOCKS5 and over the HTTP proxy) is answered by the remote itself, naming the user, the
 * remote's version and the account's usage, also on a server that refuses private
 * destinations; without the proxy the name does not resolve.
 */
import { assert, assertEquals } from "../_assert.ts";
import { curl, startChain } from "../_harness.ts";
import { serveStrict } from "../hardening/_helpers.ts";
import { WELCOME_URL } from "../../lib/protocol/welcome_page.ts";
import { VERSION } from "../../lib/version.ts";

Deno.test("welcome page: curl --socks5-hostname and curl -x both get the remote's own page", async () => {
  const chain = await startChain(["--handshake-timeout", "3"]);
  try {
    const proxy = chain.local.address;
    for (const via of [["--socks5-hostname", proxy], ["-x", `http://${proxy}`]]) {
      const page = await curl("-i", ...via, WELCOME_URL);
      assertEquals(page.code, 0, page.stderr);
      const text = new TextDecoder().decode(page.body);
      assert(text.startsWith("HTTP/1.1 200"), text.slice(0, 200));
      assert(/content-type: text\/html/i.test(text), text.slice(0, 300));
      assert(
        text.includes(`You are browsing through SwiftProxy as <b>alice</b>, remote ${VERSION}.`),
        text,
      );
      assert(text.includes("Used") && text.includes("Quota"), text);
      // Served through one connection, nothing else open: it counts that one.
      const open = /Open connections[^<]*<\/dt>\s*<dd>(\d+)<\/dd>/.exec(text)?.[1];
      assertEquals(open, "1", "open connections while the page is served through one");
    }
    const head = await curl("-I", "--socks5-hostname", proxy, WELCOME_URL);
    assertEquals(head.code, 0, head.stderr);

    // A real server's defaults (no --allow-private) answer it too: nothing is dialled.
    await serveStrict(chain.remote, ["--handshake-timeout", "3"]);
    const strict = await curl("--socks5-hostname", proxy, WELCOME_URL);
    assertEquals(strict.code, 0, strict.stderr);
    assert(new TextDecoder().decode(strict.body).includes("as <b>alice</b>"), "strict remote");

    // Without the proxy the name does not exist (.invalid, RFC 2606).
    const direct = await curl("--max-time", "5", WELCOME_URL);
    assert(direct.code !== 0, "the welcome name resolved without the proxy");
  } finally {
    await chain.stop();
  }
});
