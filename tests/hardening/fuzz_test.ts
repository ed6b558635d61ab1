/** Fuzzing: the codecs only ever throw ProtocolError, fast; real servers survive a sample. */
import { assert, assertEquals } from "../_assert.ts";
import { curl, LocalFixture, RemoteFixture, startOrigin } from "../_harness.ts";
import { fuzz, makeInput, Rng, SEEDS } from "./_fuzz.ts";
import { trojan } from "./_helpers.ts";

Deno.test("fuzz: 120,000 random and mutated inputs through the SOCKS5, HTTP, Trojan and UDP codecs", () => {
  const report = fuzz(120_000, 20_240_601);
  assertEquals(report.failures, []);
  assertEquals(report.cases, 120_000);
});

/** Sends `bytes` to the local, then waits for it to close the connection (or 5 s). */
async function sendRaw(port: number, bytes: Uint8Array): Promise<boolean> {
  const conn = await Deno.connect({ hostname: "127.0.0.1", port });
  const timer = setTimeout(() => conn.close(), 5_000);
  try {
    await conn.write(bytes).catch(() => {});
    const buffer = new Uint8Array(65536);
    for (;;) {
      const n = await conn.read(buffer).catch(() => null);
      if (n === null) return true;
    }
  } finally {
    clearTimeout(timer);
    try {
      conn.close();
    } catch {
      // closed by the timer
    }
  }
}

Deno.test("fuzz: a sample through real sockets; connections close, the servers stay up", async () => {
  const origin = startOrigin();
  // Fuzzed destinations may name anything; so that no lookup or dial leaves loopback, the
  // fuzzing local logs in with a wrong password and the Trojan seeds carry an unknown key:
  // the remote refuses every header before resolving it.
  const remote = await RemoteFixture.start(undefined, [
    "--handshake-timeout",
    "1",
    "--auth-limit",
    "0",
  ]);
  const fuzzed = await LocalFixture.start(remote, "alice", "not-the-password", [
    "--handshake-timeout",
    "1",
  ]);
  const honest = await LocalFixture.start(remote);
  try {
    const rng = new Rng(99);
    const started = performance.now();
    const local: Promise<boolean>[] = [];
    for (let i = 0; i < 300; i++) {
      const seeds = i % 2 ? SEEDS.socks : SEEDS.http;
      local.push(sendRaw(fuzzed.port, makeInput(rng, seeds)));
      if (local.length % 50 === 0) await Promise.all(local.slice(-50));
    }
    const closed = await Promise.all(local);
    assert(closed.every(Boolean), "the local closed every fuzzed connection");

    const replies = await Promise.all(Array.from({ length: 100 }, () =>
      trojan(remote, {
        credential: "",
        destination: { host: "x", port: 1 },
        raw: makeInput(rng, SEEDS.trojan),
        readMs: 5_000,
      })));
    assert(replies.every((r) => r.closed), "the remote closed every fuzzed connection");
    console.log(`400 fuzzed connections in ${Math.round(performance.now() - started)} ms`);

    const ok = await curl("-x", `socks5h://${honest.address}`, `http://127.0.0.1:${origin.port}/`);
    assertEquals(ok.code, 0, ok.stderr);
    const logs = fuzzed.program.output + remote.program.output;
    assert(!/session failed|Uncaught/.test(logs), logs);
  } finally {
    await honest.stop();
    await fuzzed.stop();
    await remote.stop();
    await origin.close();
  }
});
