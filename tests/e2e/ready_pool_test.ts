/**
 * The ready-tunnel pool that learns: after a burst of client connections the local keeps about
 * as many TLS connections ready as the burst took, fewer as time passes, none once idle, all
 * counted from the remote's side. Each ready tunnel carries exactly one client connection, a
 * restarted remote leaves no dead ones behind, and ready tunnels take no `max-conns` slot.
 */
import { assert, assertEquals } from "../_assert.ts";
import { delay, startChain } from "../_harness.ts";
import { InProcessRemote } from "../_inprocess.ts";
import { LocalServer } from "../../lib/local/inbound/server.ts";
import { LOCAL_DEFAULTS } from "../../lib/local/inbound/config.ts";
import type { PoolOptions } from "../../lib/local/tunnel/tunnel_pool.ts";
import type { SessionEnd } from "../../lib/common/ops/session_events.ts";
import {
  assertSameBytes,
  connectionsTo,
  eventually,
  readAll,
  socksRequest,
  TcpServer,
  writeAll,
} from "./_e2e.ts";

/** An echo server: every connection gets its bytes back, then the echo's end of stream. */
function startEcho(): TcpServer {
  return new TcpServer(async (conn) => {
    const buffer = new Uint8Array(64 * 1024);
    for (;;) {
      const n = await conn.read(buffer);
      if (n === null) break;
      await writeAll(conn, buffer.subarray(0, n));
    }
    await conn.closeWrite();
    await readAll(conn);
  });
}

/** One client through the local's SOCKS5 port: sends `bytes`, half-closes, reads the echo. */
async function echoThrough(localPort: number, echoPort: number, bytes: Uint8Array) {
  const { conn, rep } = await socksRequest(localPort, { host: "127.0.0.1", port: echoPort });
  try {
    if (rep !== 0) return { rep, echoed: new Uint8Array(0) };
    const [, echoed] = await Promise.all([
      writeAll(conn, bytes).then(() => conn.closeWrite()),
      readAll(conn),
    ]);
    return { rep, echoed };
  } finally {
    conn.close();
  }
}

/** Bytes that differ per connection, so a tunnel carrying two clients would show. */
function payload(seed: number, length = 48 * 1024): Uint8Array {
  const bytes = new Uint8Array(length);
  let x = seed * 2654435761 >>> 0 || 1;
  for (let i = 0; i < length; i++) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    bytes[i] = x & 0xff;
  }
  return bytes;
}

/** `n` clients at once, each checked byte for byte. */
async function burst(localPort: number, echoPort: number, n: number, seed = 0): Promise<void> {
  await Promise.all(Array.from({ length: n }, async (_, i) => {
    const sent = payload(seed + i + 1);
    const { rep, echoed } = await echoThrough(localPort, echoPort, sent);
    assertEquals(rep, 0, `client ${i}: SOCKS5 reply`);
    await assertSameBytes(echoed, sent, `client ${i}'s echo`);
  }));
}

/** A local in this process on `remote`, with the pool's timing shortened by `pool`. */
async function startLocal(
  remote: InProcessRemote,
  pool: Partial<Omit<PoolOptions, "max">> = {},
  preconnect = LOCAL_DEFAULTS.preconnect,
): Promise<LocalServer> {
  return new LocalServer({
    ...LOCAL_DEFAULTS,
    listen: { host: "127.0.0.1", port: 0 },
    endpoint: {
      remote: { host: "127.0.0.1", port: remote.port },
      user: "alice",
      password: "alice-secret",
      caCerts: [await Deno.readTextFile(remote.certPath)],
      serverName: "localhost",
      timeoutMs: LOCAL_DEFAULTS.handshakeTimeoutMs,
      preconnect,
      pool,
    },
  });
}

Deno.test("the pool grows after a burst and shrinks when idle, counted at the remote", async () => {
  const echo = startEcho();
  const remote = await InProcessRemote.start();
  const local = await startLocal(remote, { halfLifeMs: 1500, idleMs: 5000 });
  try {
    assertEquals(connectionsTo(remote.port), 0, "nothing is opened before first use");
    await burst(local.addr.port, echo.port, 1);
    await eventually(() => connectionsTo(remote.port) === 4, "the floor of 4 after one client");
    await burst(local.addr.port, echo.port, 24);
    let grown = 0;
    await eventually(() => (grown = connectionsTo(remote.port)) >= 16, "ready after the burst");
    assert(grown <= 32, `${grown} ready: more than 32`);
    console.log(`ready after a burst of 24: ${grown}`);
    // Half-life 1.5 s: three of them later the burst's claim is an eighth.
    await eventually(() => connectionsTo(remote.port) <= 8, "fewer ready as the burst ages", 6000);
    // No client for 5 s: nothing is kept.
    await eventually(() => connectionsTo(remote.port) === 0, "none ready once idle", 8000);
  } finally {
    await local.stop();
    await remote.stop();
    await echo.close();
  }
});

Deno.test("every ready tunnel carries exactly one client connection, bytes intact", async () => {
  const echo = startEcho();
  const remote = await InProcessRemote.start();
  const ended: SessionEnd[] = [];
  remote.server.events.subscribe((end) => ended.push(end));
  const local = await startLocal(remote);
  try {
    await burst(local.addr.port, echo.port, 24, 0);
    await eventually(() => connectionsTo(remote.port) >= 16, "ready after the first burst");
    for (let round = 1; round <= 3; round++) {
      await burst(local.addr.port, echo.port, 24, round * 100);
    }
    await eventually(() => ended.length === 96, `96 sessions at the remote, ${ended.length} seen`);
    const tunnels = new Set(ended.map((end) => end.client));
    assertEquals(tunnels.size, 96, "one TLS connection (client port at the remote) per client");
    assert(ended.every((end) => end.up === 48 * 1024 && end.down === 48 * 1024), "bytes counted");
    // A full pool and a burst of 24 stay within the remote's 64 pre-login connections per source.
    assert(
      !/have not logged in|connections are in handshake at once/.test(remote.program.output),
      `the remote's handshake gate closed connections:\n${remote.program.output}`,
    );
  } finally {
    await local.stop();
    await remote.stop();
    await echo.close();
  }
});

Deno.test("a restarted remote leaves no dead ready tunnels: a burst right after gets through", async () => {
  const echo = startEcho();
  const chain = await startChain([], { localArgs: ["--preconnect", "32"] });
  try {
    await burst(chain.local.port, echo.port, 24);
    await eventually(() => connectionsTo(chain.remote.port) >= 16, "ready before the restart");
    await chain.remote.program.stop("SIGKILL");
    await chain.remote.serve();
    await delay(300);
    await burst(chain.local.port, echo.port, 24, 1000);
    await burst(chain.local.port, echo.port, 24, 2000);
  } finally {
    await chain.stop();
    await echo.close();
  }
});

Deno.test("ready tunnels take no max-conns slot: the user's and the server's", async (t) => {
  for (const limit of ["user", "server"] as const) {
    await t.step(`${limit} --max-conns 3`, async () => {
      const echo = startEcho();
      const remote = await InProcessRemote.start(
        undefined,
        limit === "server" ? { maxConns: 3 } : {},
      );
      const local = await startLocal(remote);
      const held: Deno.TcpConn[] = [];
      try {
        // Grow the pool with a burst (the server's limit refuses most of it: the pool learns
        // from the tunnels taken all the same).
        await Promise.allSettled(
          Array.from({ length: 24 }, () => echoThrough(local.addr.port, echo.port, payload(1))),
        );
        await eventually(() => connectionsTo(remote.port) >= 16, "ready tunnels");
        if (limit === "user") {
          await remote.user("set", "alice", "--max-conns", "3");
          await delay(400);
        }
        await eventually(() => remote.server.accounts.openSessions === 0, "bursts finished");
        const ready = connectionsTo(remote.port);
        for (let i = 0; i < 3; i++) {
          const { conn, rep } = await socksRequest(local.addr.port, {
            host: "127.0.0.1",
            port: echo.port,
          });
          held.push(conn);
          assertEquals(rep, 0, `client ${i} with ${ready} tunnels ready`);
          await writeAll(conn, new Uint8Array([i]));
          const got = new Uint8Array(1);
          assertEquals(await conn.read(got), 1, `client ${i} got no echo with ${ready} ready`);
          assertEquals(got[0], i);
        }
        const fourth = await echoThrough(local.addr.port, echo.port, new Uint8Array([9]));
        assertEquals(fourth.echoed.length, 0, "the fourth connection is refused");
        await remote.program.waitFor(
          limit === "user" ? /too many connections/ : /the server has 3 connections open/,
        );
      } finally {
        for (const conn of held) conn.close();
        await local.stop();
        await remote.stop();
        await echo.close();
      }
    });
  }
});
