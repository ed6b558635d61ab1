/**
 * The local's own login (`--socks-user`/`--socks-pass`, SOCKS5 RFC 1929 and HTTP Basic) under
 * a guessing attack: past 20 failures a minute the source is refused like a wrong password,
 * the right one included; another source is unaffected; one log line, no secret in it.
 */
import net from "node:net";
import { assert, assertEquals } from "../_assert.ts";
import { freePort, spawnLocal } from "../_harness.ts";
import type { Program } from "../_harness.ts";
import { encodeGreeting, encodeUserPass, Method } from "../../lib/protocol/socks5.ts";
import { quietLocalArgs } from "../e2e/_e2e.ts";

const LOGIN = { username: "lan", password: "lan-password" };

/** Sends `bytes` from `source` to the local and collects what comes back until it closes. */
function exchange(
  port: number,
  source: string,
  bytes: Uint8Array,
  want: number,
): Promise<Uint8Array> {
  return new Promise((resolve) => {
    const chunks: Uint8Array[] = [];
    let size = 0;
    const socket = net.connect({ host: "127.0.0.1", port, localAddress: source });
    const done = () => {
      socket.destroy();
      const out = new Uint8Array(size);
      let at = 0;
      for (const chunk of chunks) {
        out.set(chunk, at);
        at += chunk.length;
      }
      resolve(out);
    };
    socket.on("connect", () => socket.write(bytes));
    socket.on("data", (chunk: Uint8Array) => {
      chunks.push(new Uint8Array(chunk));
      size += chunk.length;
      if (size >= want) done();
    });
    socket.on("close", done);
    socket.on("error", done);
  });
}

/** The RFC 1929 status a SOCKS5 login from `source` gets: 0 success, else refused. */
async function socksLogin(port: number, source: string, password: string): Promise<number> {
  const bytes = new Uint8Array([
    ...encodeGreeting([Method.userPass]),
    ...encodeUserPass({ username: LOGIN.username, password }),
  ]);
  const reply = await exchange(port, source, bytes, 4);
  return reply.length === 4 ? reply[3]! : -1;
}

/** The status line's code an HTTP proxy request from `source` with a Basic login gets. */
async function httpLogin(port: number, source: string, password: string | null): Promise<number> {
  const auth = password === null
    ? ""
    : `Proxy-Authorization: Basic ${btoa(`${LOGIN.username}:${password}`)}\r\n`;
  const request = `GET http://127.0.0.1:${freePort()}/ HTTP/1.1\r\nHost: x\r\n${auth}\r\n`;
  const reply = await exchange(port, source, new TextEncoder().encode(request), 12);
  return Number(new TextDecoder().decode(reply).slice(9, 12));
}

/**
 * A local that requires the login (its password in `SWIFTPROXY_SOCKS_PASS`, out of `ps`); its
 * remote is a closed port, so a passed login gets 502.
 */
function startLocal(dir: string): Promise<{ program: Program; port: number }> {
  const remote = ["--remote", `127.0.0.1:${freePort()}`, "--user", "alice", "--preconnect", "0"];
  return spawnLocal(
    [...remote, "--socks-user", LOGIN.username, ...quietLocalArgs(dir)],
    undefined,
    { SWIFTPROXY_SOCKS_PASS: LOGIN.password },
  );
}

function guardLines(program: Program): string[] {
  return program.output.split("\n").filter((line) => line.includes("failed logins"));
}

Deno.test("client logins: 3,000 SOCKS5 guesses cool the source off; another source still logs in", async () => {
  const dir = await Deno.makeTempDir({ prefix: "swiftproxy-login-" });
  const local = await startLocal(dir);
  try {
    assertEquals(await socksLogin(local.port, "127.0.0.1", LOGIN.password), 0);
    let refused = 0;
    for (let batch = 0; batch < 30; batch++) {
      const statuses = await Promise.all(
        Array.from(
          { length: 100 },
          (_, i) => socksLogin(local.port, "127.0.0.1", `guess-${batch}-${i}`),
        ),
      );
      refused += statuses.filter((status) => status !== 0).length;
    }
    assertEquals(refused, 3000);

    // The right password from the guessing source now gets what a wrong one gets, both ways.
    assert(await socksLogin(local.port, "127.0.0.1", LOGIN.password) !== 0, "SOCKS5 let it in");
    assertEquals(await httpLogin(local.port, "127.0.0.1", LOGIN.password), 407);
    // Another source is not affected: its login passes (and the closed remote gives 502).
    assertEquals(await socksLogin(local.port, "127.0.0.2", LOGIN.password), 0);
    assertEquals(await httpLogin(local.port, "127.0.0.2", LOGIN.password), 502);

    const lines = guardLines(local.program);
    assertEquals(lines.length, 1, local.program.output);
    assert(lines[0]!.includes("127.0.0.1") && !lines[0]!.includes("127.0.0.2"), lines[0]);
    assert(!local.program.output.includes(LOGIN.password), "the password was logged");
    assert(!/guess-\d+-\d+/.test(local.program.output), "a guess was logged");
  } finally {
    await local.program.stop();
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("client logins: HTTP Basic guesses count too; requests without a login do not", async () => {
  const dir = await Deno.makeTempDir({ prefix: "swiftproxy-login-" });
  const local = await startLocal(dir);
  try {
    // A browser asks without a login first and gets 407: that is not a guess.
    for (let i = 0; i < 30; i++) assertEquals(await httpLogin(local.port, "127.0.0.3", null), 407);
    assertEquals(await httpLogin(local.port, "127.0.0.3", LOGIN.password), 502);

    const guesses = await Promise.all(
      Array.from({ length: 30 }, (_, i) => httpLogin(local.port, "127.0.0.1", `guess-${i}`)),
    );
    assert(guesses.every((status) => status === 407), `${guesses}`);
    assertEquals(await httpLogin(local.port, "127.0.0.1", LOGIN.password), 407);
    assert(await socksLogin(local.port, "127.0.0.1", LOGIN.password) !== 0, "SOCKS5 let it in");
    assertEquals(await httpLogin(local.port, "127.0.0.3", LOGIN.password), 502);
    assertEquals(guardLines(local.program).length, 1, local.program.output);
  } finally {
    await local.program.stop();
    await Deno.remove(dir, { recursive: true });
  }
});
