/**
 * Usage accounting as `user list --json` shows it: equal to the bytes moved (within 1%) after a
 * transfer (in-process remote) and after SIGTERM, at most about a second short after SIGKILL
 * (spawned remotes: those are the process's own behaviour), and the open connections the
 * server last reported.
 */
import { assert, assertEquals } from "../_assert.ts";
import { delay, readUntil, startChain } from "../_harness.ts";
import { startInProcessChain } from "../_inprocess.ts";
import { Counter, download, KiB, MiB, startEndpoint, upload, userRow } from "./_traffic.ts";

/** Bytes the tunnel header of the endpoint's protocol adds upstream (op + length). */
const COMMAND = 9;

function near(actual: number, expected: number, what: string): void {
  assert(
    Math.abs(actual - expected) <= expected * 0.01,
    `${what}: user list shows ${actual}, expected ${expected} ± 1%`,
  );
}

Deno.test("usage equals the bytes moved; open connections are reported", async () => {
  const endpoint = startEndpoint();
  const chain = await startInProcessChain();
  const stop = new AbortController();
  try {
    const down = await download(chain.local.port, endpoint, 5 * MiB);
    assert(!down.cut, "the download was cut");
    assert(await upload(chain.local.port, endpoint, 3 * MiB), "the upload failed");
    await delay(800);
    let row = await userRow(chain.remote, "alice");
    near(row.bytesDown, 5 * MiB + 1, "bytes down");
    near(row.bytesUp, 3 * MiB + 2 * COMMAND, "bytes up");

    await chain.remote.user("set", "alice", "--down", "64KiB");
    await delay(300);
    const open = [new Counter(), new Counter()].map((c) =>
      download(chain.local.port, endpoint, 64 * MiB, c, stop.signal)
    );
    await delay(900);
    row = await userRow(chain.remote, "alice");
    assertEquals(row.openConns, 2, "open connections in user list");
    const table = await chain.remote.user("list");
    assert(/alice\s+active\s+unlimited\s+64 KiB\/s/.test(table), `user list:\n${table}`);
    stop.abort();
    await Promise.all(open);
    // The remote sees each connection end once its side closes, then writes within a second.
    const after = await readUntil(() => userRow(chain.remote, "alice"), (r) => r.openConns === 0);
    assertEquals(after.openConns, 0, "open connections after");
  } finally {
    stop.abort();
    await chain.stop();
    endpoint.close();
  }
});

Deno.test("SIGTERM writes the last counts", async () => {
  const endpoint = startEndpoint();
  const chain = await startChain();
  try {
    await chain.remote.user("set", "alice", "--down", "1MiB");
    await delay(1100);
    const down = await download(chain.local.port, endpoint, 3 * MiB);
    assert(!down.cut, "the download was cut");
    // At 1 MiB/s, the half second since the last periodic flush is 1/6 of the total.
    const status = await chain.remote.program.stop("SIGTERM");
    assertEquals(status.code, 0, "exit code after SIGTERM");
    near((await userRow(chain.remote, "alice")).bytesDown, 3 * MiB, "bytes down after SIGTERM");
  } finally {
    await chain.stop();
    endpoint.close();
  }
});

Deno.test("SIGKILL loses at most about one second of counts", async () => {
  const endpoint = startEndpoint();
  const chain = await startChain();
  try {
    await chain.remote.user("set", "alice", "--down", "1MiB");
    await delay(300);
    const counter = new Counter();
    const transfer = download(chain.local.port, endpoint, 64 * MiB, counter);
    await delay(3500);
    await chain.remote.program.stop("SIGKILL");
    await transfer;
    const counted = (await userRow(chain.remote, "alice")).bytesDown;
    assert(
      counted >= counter.total - 1.1 * MiB,
      `the database has ${counted} bytes down, the client got ${counter.total}`,
    );
    assert(
      counted <= counter.total + 256 * KiB,
      `the database has ${counted} bytes down, more than the ${counter.total} the client got`,
    );
  } finally {
    await chain.stop();
    endpoint.close();
  }
});
