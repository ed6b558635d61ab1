/**
 * A tunnel the remote refuses reaches the app with its reason. The remote keeps the user's last
 * refusal in the account status; the local asks for it when a tunnel closes at once and
 * answers an HTTP request with a 502 whose body says why and what fixes it, logs one line
 * (at debug for a name that does not resolve), and, while the whole account is refused,
 * answers SOCKS5 with the REP code that fits instead of success. A destination that accepts
 * and then closes is not reported so.
 */
import { assert, assertEquals } from "../_assert.ts";
import { curl, freePort, LocalFixture } from "../_harness.ts";
import { startInProcessChain } from "../_inprocess.ts";
import { closeQuietly, eventually, TcpServer } from "./_e2e.ts";
import { REMOTE_DEFAULTS } from "../../lib/remote/tunnel/config.ts";
import { parseCidr } from "../../lib/common/security/cidr.ts";

const text = (bytes: Uint8Array) => new TextDecoder().decode(bytes);

Deno.test("a refused tunnel: the app, the log and the status say why", async (t) => {
  await using cleanup = new AsyncDisposableStack();
  // 127.0.0.2 stands for an address the server does not serve (a private one, a blocked one).
  const policy = {
    ...REMOTE_DEFAULTS.policy,
    allowPrivate: true,
    deny: [parseCidr("127.0.0.2/32")],
  };
  const chain = cleanup.adopt(await startInProcessChain({ policy }), (c) => c.stop());
  const log = () => chain.local.program.output;
  const lines = (where: string) =>
    log().split("\n").filter((line) => line.includes(`-> ${where} `));
  const socks = ["--socks5-hostname", chain.local.address];
  const http = ["-x", `http://${chain.local.address}`];

  await t.step(
    "HTTP: a destination not served gives a 502 that says so, and one log line",
    async () => {
      const where = `127.0.0.2:${freePort()}`;
      const out = await curl(...http, "-w", "%{http_code}", `http://${where}/`);
      const body = text(out.body);
      assert(body.endsWith("502"), body);
      assert(body.includes(`The remote does not serve ${where}`), body);
      assert(body.includes("ask your admin"), body);
      await eventually(() => lines(where).length > 0, "the access line");
      assertEquals(lines(where).length, 1, log());
      assert(
        lines(where)[0]!.includes("closed: remote-closed-at-once (not-allowed)"),
        lines(where)[0],
      );
    },
  );

  await t.step("HTTP: a closed port gives a 502 that says the destination refused", async () => {
    const where = `127.0.0.1:${freePort()}`;
    const out = await curl(...http, `http://${where}/`);
    assert(text(out.body).includes(`${where} refused the remote's connection`), text(out.body));
    await eventually(() => lines(where).length > 0, "the access line");
    assertEquals(lines(where).length, 1, log());
  });

  await t.step("SOCKS5 and CONNECT: one line each, with the reason", async () => {
    for (const [args, url] of [[socks, "http"], [http, "https"]] as const) {
      const where = `127.0.0.1:${freePort()}`;
      const out = await curl(...args, `${url}://${where}/`);
      assert(out.code !== 0, "curl got through to a closed port");
      await eventually(() => lines(where).length > 0, "the access line");
      assertEquals(lines(where).length, 1, log());
      assert(lines(where)[0]!.includes("remote-closed-at-once (refused)"), lines(where)[0]);
      assert(lines(where)[0]!.includes("refused the remote's connection"), lines(where)[0]);
    }
  });

  await t.step("a name that does not resolve: the 502 says so, the log keeps quiet", async () => {
    const out = await curl(...http, "http://no-such-name.invalid/");
    assert(text(out.body).includes("cannot resolve the name"), text(out.body));
    await new Promise((r) => setTimeout(r, 300));
    assertEquals(lines("no-such-name.invalid:80").length, 0, log());
  });

  await t.step("a destination that accepts and closes: not reported as refused", async () => {
    const rude = cleanup.adopt(
      new TcpServer((conn) => Promise.resolve(closeQuietly(conn))),
      (s) => s.close(),
    );
    const where = `127.0.0.1:${rude.port}`;
    const out = await curl(...socks, `http://${where}/`);
    assert(out.code !== 0, "curl got a reply from a server that says nothing");
    await eventually(() => lines(where).length > 0, "the access line");
    assert(!log().includes(`${where} refused`), log());
    assert(!lines(where)[0]!.includes("remote-closed-at-once"), lines(where)[0]);
  });

  await t.step(
    "a wrong password: SOCKS5 REP 2 at once, HTTP a 502 naming the options",
    async () => {
      const wrong = await LocalFixture.start(chain.remote, "alice", "not-the-password");
      try {
        // Once the start-up check has found the login refused (it says so in a warning, after
        // the listener is up), no request is sent into a tunnel.
        await wrong.program.waitFor(/Login refused/, 20_000);
        const out = await curl(
          "--socks5-hostname",
          wrong.address,
          `http://127.0.0.1:${freePort()}/`,
        );
        assertEquals(out.code, 97, out.stderr);
        const page = await curl("-x", `http://${wrong.address}`, `http://127.0.0.1:${freePort()}/`);
        assert(text(page.body).includes("check --user and --password"), text(page.body));
      } finally {
        await wrong.stop();
      }
    },
  );

  await t.step(
    "an account over its quota: 502 with ask your admin, then SOCKS5 REP 2",
    async () => {
      await chain.remote.user("set", "alice", "--quota", "1KiB");
      const origin = cleanup.adopt(
        new TcpServer(async (conn) => {
          await conn.write(new Uint8Array(4096).fill(65));
        }),
        (s) => s.close(),
      );
      await curl(...socks, `http://127.0.0.1:${origin.port}/`); // uses the quota up
      // The remote takes the new quota up within a second; then the next request is refused.
      let said = "";
      for (let i = 0; i < 50 && !said.includes("used up its quota"); i++) {
        said = text((await curl(...http, `http://127.0.0.1:${origin.port}/`)).body);
        await new Promise((r) => setTimeout(r, 100));
      }
      assert(said.includes("502 Bad Gateway: Your account has used up its quota"), said);
      assert(said.includes("ask your admin"), said);
      const out = await curl(...socks, `http://127.0.0.1:${origin.port}/`);
      assertEquals(out.code, 97, out.stderr); // a SOCKS5 error reply, not an empty one
      assert(/\(2\)|not allowed/i.test(out.stderr), out.stderr);
    },
  );
});
