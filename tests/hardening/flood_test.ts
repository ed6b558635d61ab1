/**
 * Slowloris floods: 3,000 connections that open and stall, or send one byte and stall,
 * against the local and the remote. Honest requests keep completing in under a second,
 * memory stays bounded, and every stalled connection is closed by its deadline.
 */
import { assert, assertEquals } from "../_assert.ts";
import { curl, delay, LocalFixture, RemoteFixture, sha256, startOrigin } from "../_harness.ts";
import { randomBytes } from "../_harness.ts";
import type { Program } from "../_harness.ts";
import { rssMiB, stall } from "./_helpers.ts";

const FLOOD = 3_000;
const DEADLINE_MS = 2_000;

/** Floods `port`, times honest requests meanwhile, and checks the target's memory. */
async function flood(
  target: Program,
  port: number,
  proxy: string,
  origin: number,
  firstByte: number,
  expectClosed = true,
) {
  const pid = target.child.pid;
  const rssBefore = rssMiB(pid);
  let rssPeak = rssBefore;
  const sampler = setInterval(() => rssPeak = Math.max(rssPeak, rssMiB(pid)), 100);
  const expected = await sha256(randomBytes(100_000));
  const [silent, oneByte] = await Promise.all([
    stall(port, FLOOD / 2),
    stall(port, FLOOD / 2, Uint8Array.of(firstByte)),
  ]);
  const opening = performance.now() - silent.openedAt;
  try {
    assertEquals(silent.opened + oneByte.opened, FLOOD, "every flood connection opened");
    const times: number[] = [];
    for (let i = 0; i < 5; i++) {
      const started = performance.now();
      const got = await curl("-x", proxy, `http://127.0.0.1:${origin}/bytes/100000`);
      times.push(performance.now() - started);
      assertEquals(got.code, 0, got.stderr);
      assertEquals(await sha256(got.body), expected);
    }
    assert(times.every((ms) => ms < 1_000), `honest requests took ${times.map(Math.round)} ms`);
    // Everything stalled is closed by its deadline (plus slack for a busy 2-core machine).
    const limit = opening + DEADLINE_MS + 4_000;
    while (expectClosed && silent.closedAt.length + oneByte.closedAt.length < FLOOD) {
      if (performance.now() - silent.openedAt > limit) break;
      await delay(100);
    }
    const closed = silent.closedAt.length + oneByte.closedAt.length;
    if (expectClosed) {
      assertEquals(closed, FLOOD, `stalled connections closed within ${Math.round(limit)} ms`);
    }
    clearInterval(sampler);
    // Each pending stream read holds a 64 KiB buffer in Deno: bounded by the handshake cap
    // (1,024 by default) plus what the garbage collector has not taken back yet.
    assert(rssPeak - rssBefore < 300, `RSS grew from ${rssBefore} to ${rssPeak} MiB`);
    return {
      honestMs: times.map(Math.round),
      rssBefore: Math.round(rssBefore),
      rssPeak: Math.round(rssPeak),
      closed,
      lastCloseMs: Math.round(Math.max(0, ...silent.closedAt, ...oneByte.closedAt)),
    };
  } finally {
    clearInterval(sampler);
    silent.close();
    oneByte.close();
  }
}

Deno.test("flood: 3,000 stalled clients against the local", async () => {
  const origin = startOrigin();
  const remote = await RemoteFixture.start();
  const local = await LocalFixture.start(remote, undefined, undefined, [
    "--handshake-timeout",
    String(DEADLINE_MS / 1000),
  ]);
  try {
    // Half send nothing, half the SOCKS5 version byte: both wait on the handshake deadline.
    const result = await flood(
      local.program,
      local.port,
      `socks5h://${local.address}`,
      origin.port,
      0x05,
    );
    console.log(`local flood: ${JSON.stringify(result)}`);
  } finally {
    await local.stop();
    await remote.stop();
    await origin.close();
  }
});

Deno.test("flood: 3,000 stalled TLS clients against the remote", async () => {
  const origin = startOrigin();
  const remote = await RemoteFixture.start(undefined, [
    "--handshake-timeout",
    String(DEADLINE_MS / 1000),
  ]);
  const local = await LocalFixture.start(remote);
  try {
    // Half send nothing, half the first byte of a TLS record: the TLS handshake stalls.
    const result = await flood(
      remote.program,
      remote.port,
      `socks5h://${local.address}`,
      origin.port,
      0x16,
    );
    console.log(`remote flood: ${JSON.stringify(result)}`);
  } finally {
    await local.stop();
    await remote.stop();
    await origin.close();
  }
});

// Deno's own TlsConn.close() before the handshake ends leaves the TCP socket open, and node's
// handshakeTimeout does not fire under Deno: the remote's listener (lib/common/net/tls_listener.ts)
// puts its own deadline on every raw socket. This checks it.
Deno.test({
  name: "flood: stalled TLS handshakes are closed by the remote's deadline",
  async fn() {
    const remote = await RemoteFixture.start(undefined, ["--handshake-timeout", "1"]);
    try {
      const stalled = await stall(remote.port, 50);
      await delay(4_000);
      const closed = stalled.closedAt.length;
      stalled.close();
      assertEquals(closed, 50, "stalled TLS connections closed after 1 s");
    } finally {
      await remote.stop();
    }
  },
});
