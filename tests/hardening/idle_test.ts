/** The idle timeout closes tunnels with no traffic either way, on the local and the remote. */
import { assert } from "../_assert.ts";
import { delay, LocalFixture, RemoteFixture } from "../_harness.ts";
import { TcpServer } from "../_net.ts";
import { encodeRequest } from "../../lib/protocol/socks5.ts";

/** A destination that accepts and then says nothing; resolves when we see it closed. */
function silentOrigin() {
  const closedAt: number[] = [];
  const server = new TcpServer(async (conn) => {
    const buffer = new Uint8Array(1024);
    while ((await conn.read(buffer).catch(() => null)) !== null) {
      // reads whatever comes, answers nothing
    }
    closedAt.push(performance.now());
  });
  return { port: server.port, closedAt, close: () => server.close() };
}

/** Opens a SOCKS5 CONNECT through the local and keeps it open without traffic. */
async function openTunnel(localPort: number, port: number): Promise<Deno.TcpConn> {
  const conn = await Deno.connect({ hostname: "127.0.0.1", port: localPort });
  await conn.write(Uint8Array.of(5, 1, 0));
  await conn.read(new Uint8Array(2));
  await conn.write(encodeRequest({ command: 1, destination: { host: "127.0.0.1", port } }));
  await conn.read(new Uint8Array(10));
  return conn;
}

async function closedWithin(conn: Deno.TcpConn, ms: number): Promise<number | null> {
  const started = performance.now();
  const timer = setTimeout(() => conn.close(), ms);
  try {
    await conn.read(new Uint8Array(16)).catch(() => null);
    return performance.now() - started;
  } finally {
    clearTimeout(timer);
    try {
      conn.close();
    } catch {
      // closed by the timer: not closed by the server
    }
  }
}

Deno.test("idle: --idle-timeout on the remote closes a silent tunnel", async () => {
  const origin = silentOrigin();
  const remote = await RemoteFixture.start(undefined, ["--idle-timeout", "1"]);
  const local = await LocalFixture.start(remote);
  try {
    const conn = await openTunnel(local.port, origin.port);
    const after = await closedWithin(conn, 8_000);
    assert(after !== null && after >= 800 && after < 4_000, `closed after ${after} ms`);
    await remote.program.waitFor(/closed: aborted/, 5_000);
  } finally {
    await local.stop();
    await remote.stop();
    origin.close();
  }
});

Deno.test("idle: --idle-timeout on the local closes a silent tunnel; traffic keeps one open", async () => {
  const origin = silentOrigin();
  const remote = await RemoteFixture.start();
  const local = await LocalFixture.start(remote, undefined, undefined, ["--idle-timeout", "1"]);
  try {
    const conn = await openTunnel(local.port, origin.port);
    const after = await closedWithin(conn, 8_000);
    assert(after !== null && after >= 800 && after < 4_000, `closed after ${after} ms`);

    // A tunnel that keeps talking outlives the timeout several times over.
    const busy = await openTunnel(local.port, origin.port);
    for (let i = 0; i < 6; i++) {
      await busy.write(Uint8Array.of(i));
      await delay(500);
    }
    const closed = await closedWithin(busy, 200);
    assert(closed === null || closed >= 200, "still open after 3 s of traffic");
  } finally {
    await local.stop();
    await remote.stop();
    origin.close();
  }
});
