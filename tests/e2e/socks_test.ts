/**
 * SOCKS5 refusals with the right REP code (RFC 1928 §6) and the optional username/password
 * login (RFC 1929), through real local processes.
 */
import { assert, assertEquals } from "../_assert.ts";
import { curl, freePort, localArgs, Program, startOrigin } from "../_harness.ts";
import {
  Command,
  encodeGreeting,
  encodeUserPass,
  Method,
  Reply,
} from "../../lib/protocol/socks5.ts";
import {
  adoptAll,
  closeQuietly,
  quietLocalArgs,
  readAll,
  readExactly,
  socksRequest,
  startQuietChain,
  writeAll,
} from "./_e2e.ts";

const decoder = new TextDecoder();

/** Starts a local with `args` (and alice's password) and returns it with its port. */
async function startLocal(args: string[]): Promise<{ program: Program; port: number }> {
  const port = freePort();
  const program = new Program(localArgs("--listen", `127.0.0.1:${port}`, ...args), {
    env: { SWIFTPROXY_PASSWORD: "alice-secret" },
  });
  await program.waitFor(/proxy on/);
  return { program, port };
}

Deno.test("SOCKS5 refusals and login", async (t) => {
  await using cleanup = new AsyncDisposableStack();
  const chain = cleanup.adopt(await startQuietChain(), (c) => c.stop());
  const origin = cleanup.adopt(startOrigin("127.0.0.1"), (o) => o.close());
  const closedPort = freePort();
  const common = ["--user", "alice", "--ca", chain.remote.certPath];
  const [withLogin, noRemote] = await adoptAll(cleanup, [
    startLocal([
      "--remote",
      chain.remote.address,
      ...common,
      "--socks-user",
      "lan",
      "--socks-pass",
      "lan-pass",
      ...quietLocalArgs(`${chain.remote.dir}/login`),
    ]),
    startLocal([
      "--remote",
      `127.0.0.1:${closedPort}`,
      ...common,
      ...quietLocalArgs(`${chain.remote.dir}/none`),
    ]),
  ], (local) => local.program.stop());
  const originUrl = `http://127.0.0.1:${origin.port}/`;
  const destination = { host: "127.0.0.1", port: origin.port };
  await t.step("BIND is answered with 0x07 (command not supported)", async () => {
    const { conn, rep } = await socksRequest(chain.local.port, destination, Command.bind);
    try {
      assertEquals(rep, Reply.commandNotSupported);
      assertEquals((await readAll(conn)).length, 0);
    } finally {
      closeQuietly(conn);
    }
  });

  await t.step("UDP ASSOCIATE is answered with success (tests/udp/ goes further)", async () => {
    const { conn, rep } = await socksRequest(chain.local.port, destination, Command.udpAssociate);
    closeQuietly(conn);
    assertEquals(rep, Reply.succeeded);
  });

  await t.step("an unknown address type is answered with 0x08", async () => {
    const conn = await Deno.connect({ hostname: "127.0.0.1", port: chain.local.port });
    try {
      await writeAll(conn, encodeGreeting([Method.noAuth]));
      assertEquals(await readExactly(conn, 2), Uint8Array.of(5, Method.noAuth));
      await writeAll(conn, Uint8Array.of(5, Command.connect, 0, 0x09, 127, 0, 0, 1, 0, 80));
      const reply = await readExactly(conn, 2);
      assertEquals(reply[1], Reply.addressTypeNotSupported);
    } finally {
      closeQuietly(conn);
    }
  });

  await t.step("a remote that refuses: 0x05 to SOCKS5, 502 to HTTP", async () => {
    const { conn, rep } = await socksRequest(noRemote.port, destination);
    closeQuietly(conn);
    assertEquals(rep, Reply.connectionRefused);
    const out = await curl(
      "-x",
      `http://127.0.0.1:${noRemote.port}`,
      "-w",
      "%{http_code}",
      originUrl,
    );
    assertEquals(decoder.decode(out.body).slice(-3), "502");
    // The local itself stays up and serves the next client.
    const again = await socksRequest(noRemote.port, destination);
    closeQuietly(again.conn);
    assertEquals(again.rep, Reply.connectionRefused);
  });

  await t.step("curl with the right SOCKS5 login gets through", async () => {
    const out = await curl(
      "--socks5-hostname",
      `lan:lan-pass@127.0.0.1:${withLogin.port}`,
      originUrl,
    );
    assertEquals(out.code, 0, out.stderr);
    assertEquals(decoder.decode(out.body), "origin 127.0.0.1 says hello\n");
    const flags = await curl(
      "--socks5-hostname",
      `127.0.0.1:${withLogin.port}`,
      "--socks5-basic",
      "--proxy-user",
      "lan:lan-pass",
      originUrl,
    );
    assertEquals(flags.code, 0, flags.stderr);
  });

  await t.step("a wrong SOCKS5 password or no login is refused", async () => {
    const wrong = await curl(
      "--socks5-hostname",
      `lan:nope@127.0.0.1:${withLogin.port}`,
      originUrl,
    );
    assert(wrong.code !== 0, "curl got through with a wrong password");
    assertEquals(wrong.body.length, 0);
    const none = await curl("--socks5-hostname", `127.0.0.1:${withLogin.port}`, originUrl);
    assert(none.code !== 0, "curl got through without a login");

    const conn = await Deno.connect({ hostname: "127.0.0.1", port: withLogin.port });
    try {
      await writeAll(conn, encodeGreeting([Method.noAuth]));
      assertEquals(await readExactly(conn, 2), Uint8Array.of(5, Method.noAcceptable));
    } finally {
      closeQuietly(conn);
    }
    const byHand = await Deno.connect({ hostname: "127.0.0.1", port: withLogin.port });
    try {
      await writeAll(byHand, encodeGreeting([Method.userPass]));
      assertEquals(await readExactly(byHand, 2), Uint8Array.of(5, Method.userPass));
      await writeAll(byHand, encodeUserPass({ username: "lan", password: "wrong" }));
      assertEquals(await readExactly(byHand, 2), Uint8Array.of(1, 1));
      assertEquals((await readAll(byHand)).length, 0);
    } finally {
      closeQuietly(byHand);
    }
    assert(!withLogin.program.output.includes("lan-pass"), "the local printed the LAN password");
  });

  await t.step("the HTTP proxy asks for the same login", async () => {
    const ok = await curl("-x", `http://lan:lan-pass@127.0.0.1:${withLogin.port}`, originUrl);
    assertEquals(ok.code, 0, ok.stderr);
    assertEquals(decoder.decode(ok.body), "origin 127.0.0.1 says hello\n");
    const denied = await curl(
      "-x",
      `http://127.0.0.1:${withLogin.port}`,
      "-w",
      "%{http_code}",
      originUrl,
    );
    assertEquals(decoder.decode(denied.body).slice(-3), "407");
  });

  await t.step("a good request still gets REP 0x00 and the origin's answer", async () => {
    const { conn, rep } = await socksRequest(chain.local.port, destination);
    try {
      assertEquals(rep, Reply.succeeded);
      await writeAll(conn, new TextEncoder().encode("GET / HTTP/1.0\r\n\r\n"));
      const answer = decoder.decode(await readAll(conn));
      assert(answer.endsWith("origin 127.0.0.1 says hello\n"), answer);
    } finally {
      closeQuietly(conn);
    }
  });
});
