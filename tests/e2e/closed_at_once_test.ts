/**
 * A destination the remote refuses: the app sees an empty reply (SOCKS5, CONNECT) or a 502
 * (forwarding), and the local's log says in words that the remote closed the tunnel at once.
 * A destination that accepts and then closes is not reported so.
 */
import { assert, assertEquals } from "../_assert.ts";
import { curl, freePort } from "../_harness.ts";
import { startInProcessChain } from "../_inprocess.ts";
import { closeQuietly, eventually, TcpServer } from "./_e2e.ts";

const WORDS =
  "the remote closed the tunnel at once: destination refused or unreachable, or login refused";

Deno.test("a refused destination: the local's log says the remote closed the tunnel at once", async (t) => {
  await using cleanup = new AsyncDisposableStack();
  const chain = cleanup.adopt(await startInProcessChain(), (c) => c.stop());
  const log = () => chain.local.program.output;
  const said = (port: number) =>
    log().split("\n").filter((line) =>
      line.includes(`-> 127.0.0.1:${port}: ${WORDS}`) && line.includes("[WRN]")
    ).length;
  const socks = ["--socks5-hostname", chain.local.address];
  const http = ["-x", `http://${chain.local.address}`];

  await t.step("SOCKS5: curl gets an empty reply, the log says why", async () => {
    const port = freePort();
    const out = await curl(...socks, `http://127.0.0.1:${port}/`);
    assertEquals(out.code, 52, out.stderr); // Empty reply from server
    await eventually(() => said(port) === 1, "the closed-at-once line");
    // The access line follows the warning once the session has ended (a moment later under load).
    await eventually(() => log().includes(`-> 127.0.0.1:${port} up=`), "the access line");
    assert(/closed: remote-closed-at-once/.test(log()), log());
  });

  await t.step("HTTP CONNECT: the same words", async () => {
    const port = freePort();
    const out = await curl(...http, `https://127.0.0.1:${port}/`);
    assert(out.code !== 0, "curl got through to a closed port");
    await eventually(() => said(port) === 1, "the closed-at-once line");
  });

  await t.step("HTTP forwarding: a 502, and the same words", async () => {
    const port = freePort();
    const out = await curl(...http, "-w", "%{http_code}", `http://127.0.0.1:${port}/`);
    assertEquals(new TextDecoder().decode(out.body).slice(-3), "502");
    await eventually(() => said(port) === 1, "the closed-at-once line");
  });

  await t.step("a destination that accepts and closes: not reported as refused", async () => {
    const rude = cleanup.adopt(
      new TcpServer((conn) => Promise.resolve(closeQuietly(conn))),
      (s) => s.close(),
    );
    const out = await curl(...socks, `http://127.0.0.1:${rude.port}/`);
    assert(out.code !== 0, "curl got a reply from a server that says nothing");
    await eventually(
      () => new RegExp(`-> 127\\.0\\.0\\.1:${rude.port} up=\\d+ down=0 .*closed: `).test(log()),
      "the access line",
    );
    assertEquals(said(rude.port), 0, log());
  });
});
