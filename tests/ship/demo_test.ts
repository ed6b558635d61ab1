/**
 * `deno task demo` as a newcomer runs it: it says the remote allows private destinations and
 * what that means, marks the line that needs the internet, and tells the user to open the
 * welcome page in a browser with the proxy set; that page answers through the demo's proxy.
 */
import { assert, assertEquals } from "../_assert.ts";
import { curl, Program } from "../_harness.ts";
import { WELCOME_URL } from "../../lib/protocol/welcome_page.ts";

Deno.test("demo: prints --allow-private and the welcome page, which works through its proxy", async () => {
  const demo = new Program(["run", "-q", "-P=demo", "scripts/demo.ts"]);
  try {
    await demo.waitFor(/Press Ctrl-C to stop/, 60_000);
    const out = demo.output;
    assert(/runs with --allow-private/.test(out), out);
    assert(/a real server leaves it off and refuses them by default/.test(out), out);
    assert(/https:\/\/example\.com\/\s+\(needs the internet\)/.test(out), out);
    assert(out.includes(`then open ${WELCOME_URL}`), out);
    assert(/send 127\.0\.0\.1 addresses direct/.test(out), out);

    const proxy = /curl --socks5-hostname (127\.0\.0\.1:\d+) /.exec(out)![1];
    for (const via of [["--socks5-hostname", proxy], ["-x", `http://${proxy}`]]) {
      const page = await curl(...via, WELCOME_URL);
      assertEquals(page.code, 0, page.stderr);
      const text = new TextDecoder().decode(page.body);
      assert(text.includes("You are browsing through SwiftProxy as <b>demo</b>"), text);
    }
  } finally {
    const status = await demo.stop("SIGINT");
    assertEquals(status.code, 0, demo.output);
  }
  assert(demo.output.includes("stopped."), demo.output);
});
