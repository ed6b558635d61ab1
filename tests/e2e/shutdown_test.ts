/**
 * Ctrl-C on the remote, as an operator presses it: a local's idle ready tunnels (TLS done, no
 * header) do not hold the exit up; a running download gets the grace period, and a second
 * Ctrl-C ends it at once, with its usage written first.
 */
import { assert, assertEquals } from "../_assert.ts";
import { chainTo, delay, RemoteFixture, startOrigin } from "../_harness.ts";
import { connectionsTo, eventually } from "./_e2e.ts";

const MiB = 1024 * 1024;

/** Sends `signal` to the fixture's serve without waiting. */
function signal(remote: RemoteFixture, name: Deno.Signal): void {
  remote.program.child.kill(name);
}

Deno.test("Ctrl-C: idle ready tunnels close at once; a download gets the grace, a second Ctrl-C ends it with usage written", async () => {
  const origin = startOrigin();
  const remote = await RemoteFixture.start({ alice: "alice-secret" });
  const chain = await chainTo(remote);
  try {
    // One request through the local: its pool then keeps ready tunnels (TLS done, no header).
    const page = await fetchVia(chain.local.port, `http://127.0.0.1:${origin.port}/bytes/1000`);
    assertEquals(page, 1000);
    await eventually(() => connectionsTo(remote.port) >= 4, "ready tunnels at the remote");

    let started = performance.now();
    signal(remote, "SIGINT");
    const first = await remote.program.status;
    const idleExit = performance.now() - started;
    console.log(`exit with only ready tunnels open: ${idleExit.toFixed(0)} ms`);
    assertEquals(first.code, 0, remote.program.output);
    assert(idleExit < 1000, `Ctrl-C with only idle ready tunnels took ${idleExit} ms`);

    // A download at 1 MiB/s: the first Ctrl-C gives it the grace, the second ends it now.
    await remote.user("set", "alice", "--down", "1MiB");
    await remote.serve();
    const download = fetchVia(chain.local.port, `http://127.0.0.1:${origin.port}/bytes/${50 * MiB}`)
      .catch(() => -1);
    await delay(2000);
    signal(remote, "SIGINT");
    await delay(1000);
    assert(!remote.program.output.includes("closing open tunnels now"), "not yet");
    const exited = await Promise.race([remote.program.status.then(() => true), delay(0)]);
    assert(!exited, "the download got no grace");
    started = performance.now();
    signal(remote, "SIGINT");
    const second = await remote.program.status;
    const hurried = performance.now() - started;
    console.log(`exit after a second Ctrl-C during a download: ${hurried.toFixed(0)} ms`);
    assertEquals(second.code, 0, remote.program.output);
    assert(hurried < 1000, `the second Ctrl-C took ${hurried} ms`);
    await download;
    const row = JSON.parse(await remote.user("list", "--json"))[0];
    assert(row.bytesDown >= MiB, `the download's usage was written: ${row.bytesDown}`);
  } finally {
    await chain.stop();
    await origin.close();
  }
});

/** GET `url` through the local's HTTP proxy port; the body's length. */
async function fetchVia(proxyPort: number, url: string): Promise<number> {
  const client = Deno.createHttpClient({ proxy: { url: `http://127.0.0.1:${proxyPort}` } });
  try {
    const response = await fetch(url, { client });
    return (await response.bytes()).length;
  } finally {
    client.close();
  }
}
