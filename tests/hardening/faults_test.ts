/** Faults: resets, a killed remote, a busy database; nothing hangs and little is lost. */
import { DatabaseSync } from "node:sqlite";
import { assert, assertEquals } from "../_assert.ts";
import { curl, delay, RemoteFixture, startChain, startOrigin } from "../_harness.ts";
import { TcpServer } from "../_net.ts";

async function usage(remote: RemoteFixture, name = "alice") {
  const users = JSON.parse(await remote.user("list", "--json"));
  const user = users.find((u: { name: string }) => u.name === name);
  return { up: user.bytesUp as number, down: user.bytesDown as number };
}

/** Runs curl in the background; resolves with its exit code, bytes and when it ended. */
function download(proxy: string, url: string) {
  const started = performance.now();
  const child = new Deno.Command("curl", {
    args: [
      "-sS",
      "--max-time",
      "60",
      "-x",
      proxy,
      "-o",
      "/dev/null",
      "-w",
      "%{size_download}",
      url,
    ],
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  return child.output().then((out) => ({
    code: out.code,
    bytes: Number(new TextDecoder().decode(out.stdout)),
    ended: performance.now(),
    started,
  }));
}

Deno.test("faults: a destination that resets mid-transfer ends the client's request", async () => {
  // Sends 256 KiB of a promised 10 MiB, then closes with the request unread: a TCP reset.
  const resetting = new TcpServer(async (conn) => {
    const head = "HTTP/1.1 200 OK\r\nContent-Length: 10485760\r\n\r\n";
    await conn.write(new TextEncoder().encode(head)).catch(() => {});
    await conn.write(new Uint8Array(256 * 1024)).catch(() => {});
  });
  const origin = startOrigin();
  const chain = await startChain();
  try {
    const proxy = `socks5h://${chain.local.address}`;
    const started = performance.now();
    const broken = await curl(
      "-x",
      proxy,
      "-o",
      "/dev/null",
      `http://127.0.0.1:${resetting.port}/`,
    );
    assert(broken.code !== 0, "curl saw the transfer break");
    assert(performance.now() - started < 5_000, "promptly");
    const ok = await curl("-x", proxy, `http://127.0.0.1:${origin.port}/`);
    assertEquals(ok.code, 0, ok.stderr);
  } finally {
    await chain.stop();
    await origin.close();
    await resetting.close();
  }
});

Deno.test("faults: a remote killed mid-transfer; clients close promptly, then it works again", async () => {
  const origin = startOrigin();
  const chain = await startChain();
  try {
    await chain.remote.user("set", "alice", "--down", "1MiB");
    await delay(1_500);
    const proxy = `socks5h://${chain.local.address}`;
    const running = download(proxy, `http://127.0.0.1:${origin.port}/bytes/50000000`);
    await delay(1_500);
    const killedAt = performance.now();
    await chain.remote.program.stop("SIGKILL");
    const result = await running;
    assert(result.code !== 0, "the client saw the transfer fail");
    assert(
      result.ended - killedAt < 2_000,
      `closed ${Math.round(result.ended - killedAt)} ms after`,
    );

    await chain.remote.serve();
    const again = await curl("-x", proxy, `http://127.0.0.1:${origin.port}/`);
    assertEquals(again.code, 0, again.stderr);
  } finally {
    await chain.stop();
    await origin.close();
  }
});

Deno.test("faults: a long admin transaction; relaying continues and usage catches up", async () => {
  const origin = startOrigin();
  const chain = await startChain();
  try {
    const before = await usage(chain.remote);
    const db = new DatabaseSync(`${chain.remote.dir}/users.db`);
    db.exec("PRAGMA busy_timeout = 5000");
    db.exec("BEGIN IMMEDIATE");
    let got;
    try {
      const started = performance.now();
      got = await curl(
        "-x",
        `socks5h://${chain.local.address}`,
        "-o",
        "/dev/null",
        "-w",
        "%{size_download}",
        `http://127.0.0.1:${origin.port}/bytes/3000000`,
      );
      assertEquals(got.code, 0, got.stderr);
      assert(performance.now() - started < 3_000, "the transfer did not wait for the database");
      await delay(3_000); // several flushes fail while the write lock is held
    } finally {
      db.exec("COMMIT");
      db.close();
    }
    await delay(2_500);
    const after = await usage(chain.remote);
    const counted = after.down - before.down;
    assert(counted >= 3_000_000 && counted < 3_010_000, `usage caught up: ${counted} bytes`);
  } finally {
    await chain.stop();
    await origin.close();
  }
});

Deno.test("faults: the remote SIGKILLed and restarted loses at most ~1 s of usage", async () => {
  const origin = startOrigin();
  const chain = await startChain();
  try {
    const rate = 1024 * 1024;
    await chain.remote.user("set", "alice", "--down", "1MiB");
    await delay(1_500);
    const before = await usage(chain.remote);
    const running = download(
      `socks5h://${chain.local.address}`,
      `http://127.0.0.1:${origin.port}/bytes/50000000`,
    );
    await delay(3_500);
    await chain.remote.program.stop("SIGKILL");
    const result = await running;
    await chain.remote.serve();
    const after = await usage(chain.remote);
    const counted = after.down - before.down;
    const lost = result.bytes - counted;
    console.log(`client got ${result.bytes} bytes, database counted ${counted}, lost ${lost}`);
    assert(result.bytes > rate, "the download ran for a while");
    assert(lost <= rate * 1.25, `lost ${lost} bytes, more than ~1 s at 1 MiB/s`);
  } finally {
    await chain.stop();
    await origin.close();
  }
});
