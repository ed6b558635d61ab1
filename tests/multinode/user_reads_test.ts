/**
 * Three real `serve --node` processes on one real PostgreSQL database, logging at debug level:
 * traffic (usage batches every half second from each node) makes no node re-read the users,
 * while a change to a user still reaches every node within a second. Each re-read is the
 * node's debug line "read N users".
 */
import { assert, assertEquals } from "../_assert.ts";
import { delay, LocalFixture } from "../_harness.ts";
import { POSTGRES_MISSING, startCluster } from "../_postgres.ts";
import { download, MiB, startEndpoint, userRow } from "../limits/_traffic.ts";
import { loginWorks, type NodeFixture, NodeSet } from "./_nodes.ts";

const ignore = POSTGRES_MISSING !== undefined;

/** The nodes and a local on the first two, started once for the whole file. */
let shared: Promise<{ set: NodeSet; locals: LocalFixture[] }> | undefined;
function nodes() {
  return shared ??= (async () => {
    const set = await NodeSet.start(await startCluster(), 3, { alice: "alice-secret" }, {
      extra: () => ["--log-level", "debug"],
    });
    const locals = await Promise.all(set.nodes.slice(0, 2).map((n) => LocalFixture.start(n)));
    return { set, locals };
  })();
}

/** How many times `node` has read the users so far. */
function reads(node: NodeFixture): number {
  return node.program.output.match(/read \d+ users/g)?.length ?? 0;
}

Deno.test({
  name: "traffic through two nodes makes no node re-read the users; their usage still adds up",
  ignore,
  async fn() {
    const { set, locals } = await nodes();
    const endpoint = startEndpoint();
    try {
      await set.user("set", "alice", "--down", "2MiB");
      await delay(1200);
      const before = set.nodes.map(reads);
      const counters = await Promise.all(locals.map((l) => download(l.port, endpoint, 3 * MiB)));
      assertEquals(counters.map((c) => c.total), [3 * MiB, 3 * MiB]);
      // The last batches land within a second; the nodes poll four times a second meanwhile.
      await delay(1500);
      assertEquals(set.nodes.map(reads), before, "a node re-read the users during traffic");
      const row = await userRow(set, "alice");
      assert(row.bytesDown >= 6 * MiB, `user list shows ${row.bytesDown} bytes down`);
    } finally {
      await endpoint.close();
    }
  },
});

Deno.test({
  name: "a user added on one node is read and served by every node within 1 s",
  ignore,
  async fn() {
    const { set } = await nodes();
    const before = set.nodes.map(reads);
    await set.user("add", "dave", "--password", "dave-secret");
    const added = performance.now();
    const times = await Promise.all(set.nodes.map(async (node) => {
      while (!await loginWorks(node, "dave", "dave-secret")) {
        if (performance.now() - added > 3000) throw new Error(`${node.name} never served dave`);
        await delay(25);
      }
      return performance.now() - added;
    }));
    assert(times.every((t) => t < 1000), `dave was served after ${times.map(Math.round)} ms`);
    const after = set.nodes.map(reads);
    assert(after.every((n, i) => n > before[i]!), `reads ${before} → ${after}`);
  },
});

Deno.test({
  name: "the nodes and locals of this file stop",
  ignore,
  async fn() {
    const { set, locals } = await nodes();
    await Promise.all(locals.map((l) => l.stop()));
    await set.stop();
  },
});
