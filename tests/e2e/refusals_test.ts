/**
 * Refusals on the remote: a wrong password, an unknown user and a garbage header never reach
 * a destination and are logged without secrets; a destination that refuses or does not
 * resolve closes cleanly, is logged, and the next connection works.
 */
import { assert, assertEquals } from "../_assert.ts";
import { curl, freePort, LocalFixture, startOrigin } from "../_harness.ts";
import { encodeTrojanHeader, trojanToken } from "../../lib/protocol/trojan.ts";
import {
  adoptAll,
  closeQuietly,
  eventually,
  quietLocalArgs,
  readAll,
  startQuietChain,
  TcpServer,
  writeAll,
} from "./_e2e.ts";

const decoder = new TextDecoder();

/** Resolves with what arrived before the peer closed, or rejects after `ms`. */
function closesWithin(conn: Deno.Conn, ms: number): Promise<Uint8Array> {
  return Promise.race([
    readAll(conn).catch(() => new Uint8Array(0)),
    new Promise<never>((_, reject) =>
      setTimeout(() => reject(new Error(`the connection stayed open for ${ms} ms`)), ms)
    ),
  ]);
}

Deno.test("the remote refuses bad logins and garbage, and survives bad destinations", async (t) => {
  await using cleanup = new AsyncDisposableStack();
  const chain = cleanup.adopt(await startQuietChain(), (c) => c.stop());
  const { remote } = chain;
  // Nothing may ever connect here: it stands for the destination of refused tunnels.
  const victim = cleanup.adopt(
    new TcpServer(async (conn) => {
      await writeAll(conn, new TextEncoder().encode("you should not see this\n"));
    }),
    (server) => server.close(),
  );
  const origin = cleanup.adopt(startOrigin("127.0.0.1"), (o) => o.close());
  const [wrongPassword, unknownUser] = await adoptAll(cleanup, [
    LocalFixture.start(remote, "alice", "not-alice-secret", quietLocalArgs(`${remote.dir}/a`)),
    LocalFixture.start(remote, "mallory", "mallory-secret", quietLocalArgs(`${remote.dir}/b`)),
  ], (local) => local.stop());
  const victimUrl = `http://127.0.0.1:${victim.port}/`;
  const secrets = [
    "alice-secret",
    "not-alice-secret",
    "mallory-secret",
    trojanToken("alice:alice-secret"),
    trojanToken("alice:not-alice-secret"),
    trojanToken("mallory:mallory-secret"),
  ];
  const assertNoSecrets = () => {
    for (const program of [remote.program, chain.local.program, wrongPassword.program]) {
      for (const secret of secrets) {
        assert(!program.output.includes(secret), `a secret was printed:\n${program.output}`);
      }
    }
  };
  const countLines = (pattern: RegExp) =>
    remote.program.output.split("\n").filter((line) => pattern.test(line)).length;
  const works = async () => {
    const out = await curl(
      "--socks5-hostname",
      chain.local.address,
      `http://127.0.0.1:${origin.port}/`,
    );
    assertEquals(out.code, 0, out.stderr);
    assertEquals(decoder.decode(out.body), "origin 127.0.0.1 says hello\n");
  };

  for (
    const [name, local] of [["a wrong password", wrongPassword], [
      "an unknown user",
      unknownUser,
    ]] as const
  ) {
    await t.step(`${name}: no destination connection, closed, logged`, async () => {
      const before = countLines(/unknown credential/);
      const out = await curl("--socks5-hostname", local.address, victimUrl);
      assert(out.code !== 0, `curl succeeded through ${name}: ${decoder.decode(out.body)}`);
      assertEquals(out.body.length, 0);
      await eventually(() => countLines(/unknown credential/) > before, "the refusal log line");
      assertEquals(victim.accepts, 0);
      assertNoSecrets();
    });
  }

  await t.step("a wrong token sent by hand: closed with no answer", async () => {
    const conn = await Deno.connectTls({
      hostname: "127.0.0.1",
      port: remote.port,
      caCerts: [await Deno.readTextFile(remote.certPath)],
    });
    try {
      await writeAll(
        conn,
        encodeTrojanHeader({
          token: trojanToken("alice:guess"),
          command: 1,
          destination: { host: "127.0.0.1", port: victim.port },
        }, new TextEncoder().encode("GET / HTTP/1.0\r\n\r\n")),
      );
      assertEquals((await closesWithin(conn, 5000)).length, 0);
    } finally {
      closeQuietly(conn);
    }
    assertEquals(victim.accepts, 0);
  });

  await t.step("a garbage header over TLS: closed, logged, nothing dialled", async () => {
    const before = countLines(/not a tunnel header/);
    const conn = await Deno.connectTls({
      hostname: "127.0.0.1",
      port: remote.port,
      caCerts: [await Deno.readTextFile(remote.certPath)],
    });
    try {
      await writeAll(
        conn,
        new TextEncoder().encode(
          `GET http://127.0.0.1:${victim.port}/ HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Pad: ${
            "x".repeat(64)
          }\r\n\r\n`,
        ),
      );
      assertEquals((await closesWithin(conn, 5000)).length, 0);
    } finally {
      closeQuietly(conn);
    }
    await eventually(() => countLines(/not a tunnel header/) > before, "the garbage log line");
    assertEquals(victim.accepts, 0);
  });

  await t.step("the right login still works after the failures", works);

  await t.step("a destination that refuses: clean close, logged, next works", async () => {
    const port = freePort();
    const out = await curl("--socks5-hostname", chain.local.address, `http://127.0.0.1:${port}/`);
    assert(out.code !== 0, "curl succeeded against a closed port");
    await eventually(
      () => countLines(new RegExp(`-> 127\\.0\\.0\\.1:${port} .*closed: refused`)) === 1,
      "the refused access line",
    );
    await works();
  });

  await t.step(
    "a destination that does not resolve: clean close, logged, next works",
    async () => {
      const out = await curl(
        "--socks5-hostname",
        chain.local.address,
        "http://nonexistent.invalid/",
      );
      assert(out.code !== 0, "curl succeeded against nonexistent.invalid");
      await eventually(
        () => countLines(/-> nonexistent\.invalid:80 .*closed: unresolved/) === 1,
        "the unresolved access line",
      );
      await works();
      assertNoSecrets();
    },
  );
});
