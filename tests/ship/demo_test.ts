/**
 * `deno task demo` as a newcomer runs it: it says the remote allows private destinations and
 * what that means, marks the line that needs the internet, and tells the user to open the
 * welcome page in a browser with the proxy set; that page answers through the demo's proxy.
 */
import { assert, assertEquals } from "../_assert.ts";
import { curl, delay, Program } from "../_harness.ts";
import { WELCOME_URL } from "../../lib/protocol/welcome_page.ts";

/** Holds 127.0.0.1:`port` if it is free (else someone else holds it: taken all the same). */
function hold(port: number): Deno.Listener | undefined {
  try {
    return Deno.listen({ hostname: "127.0.0.1", port });
  } catch {
    return undefined;
  }
}

Deno.test("demo: prints --allow-private and the welcome page, which works through its proxy", async () => {
  // 1080 and 9090 taken (as by another proxy): the demo says which ports it uses instead.
  const held = [hold(1080), hold(9090)];
  const demo = new Program(["run", "-q", "-P=demo", "scripts/demo.ts"]);
  try {
    await demo.waitFor(/Press Ctrl-C to stop/, 60_000);
    const out = demo.output;
    assert(/port 1080 is taken: the local's proxy uses 127\.0\.0\.1:\d+ instead/.test(out), out);
    assert(/port 9090 is taken: the dashboard uses 127\.0\.0\.1:\d+ instead/.test(out), out);
    assert(/runs with --allow-private/.test(out), out);
    assert(/a real server leaves it off and refuses them by default/.test(out), out);
    assert(/https:\/\/example\.com\/\s+\(needs the internet\)/.test(out), out);
    assert(out.includes(`then open ${WELCOME_URL}`), out);
    assert(/send 127\.0\.0\.1 addresses direct/.test(out), out);

    const proxy = /curl --socks5-hostname (127\.0\.0\.1:\d+) /.exec(out)![1]!;
    for (const via of [["--socks5-hostname", proxy], ["-x", `http://${proxy}`]]) {
      const page = await curl(...via, WELCOME_URL);
      assertEquals(page.code, 0, page.stderr);
      const text = new TextDecoder().decode(page.body);
      assert(text.includes("You are browsing through SwiftProxy as <b>demo</b>"), text);
    }
  } finally {
    for (const listener of held) listener?.close();
    const status = await demo.stop("SIGINT");
    assertEquals(status.code, 0, demo.output);
  }
  assert(demo.output.includes("stopped."), demo.output);
});

Deno.test("demo --help prints what the demo does and starts nothing; other options are refused", async () => {
  for (const [args, code] of [[["--help"], 0], [["-h"], 0], [["--port", "1"], 2]] as const) {
    const demo = new Program(["run", "-q", "-P=demo", "scripts/demo.ts", ...args]);
    // It ends by itself; one that started a demo instead is stopped after a while.
    const status = await Promise.race([demo.status, delay(30_000).then(() => demo.stop("SIGINT"))]);
    assert(!demo.output.includes("SwiftProxy demo (data in"), `${args}: started a demo`);
    assert(demo.output.includes("Usage: deno task demo"), demo.output);
    assertEquals(status.code, code, `${args}: ${demo.output}`);
  }
});
