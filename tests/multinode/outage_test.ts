/**
 * Faults with real nodes on a real PostgreSQL: the database stopped during transfers, a usage
 * batch whose commit reply was lost, and starting with the database down (a node SIGKILLed:
 * `node_kill_test.ts`, so that neither file takes 30 s alone).
 */
import { assert, assertEquals } from "../_assert.ts";
import { delay, LocalFixture, Program, remoteArgs, runProgram } from "../_harness.ts";
import { POSTGRES_MISSING, startCluster } from "../_postgres.ts";
import type { PgCluster } from "../_postgres.ts";
import { download, MiB, startEndpoint, userRow } from "../limits/_traffic.ts";
import { NodeFixture, NodeSet } from "./_nodes.ts";
import { PostgresStore } from "../../lib/remote/store/postgres_store.ts";
import { UsageOutbox } from "../../lib/remote/store/usage_spool.ts";
import type { UsageBatch, UsageDelta } from "../../lib/remote/store/user_store.ts";

const ignore = POSTGRES_MISSING !== undefined;
let cluster: Promise<PgCluster> | undefined;
const pg = () => cluster ??= startCluster();

/** How many times `pattern` occurs in `text`. */
const count = (text: string, pattern: RegExp) => text.match(new RegExp(pattern, "g"))?.length ?? 0;

Deno.test({
  name: "PostgreSQL stopped during transfers: relaying goes on, usage catches up exactly",
  ignore,
  async fn() {
    const c = await pg();
    const set = await NodeSet.start(c, 2);
    const locals = await Promise.all(set.nodes.map((n) => LocalFixture.start(n)));
    const endpoint = startEndpoint();
    try {
      await set.user("set", "alice", "--down", "4MiB");
      await delay(1200);
      const transfers = locals.map((l) => download(l.port, endpoint, 10 * MiB));
      await delay(1000);
      await c.pause();
      await delay(2500);
      await c.resume();
      const counters = await Promise.all(transfers);
      assertEquals(
        counters.map((x) => x.total),
        [10 * MiB, 10 * MiB],
        `no transfer was cut:\n${set.nodes.map((n) => n.program.output).join("\n")}`,
      );
      await set.usageLands("alice", 20 * MiB);
      assertEquals(
        (await userRow(set, "alice")).bytesDown,
        20 * MiB,
        `usage after the outage:\n${set.nodes.map((n) => n.program.output).join("\n")}`,
      );
      for (const node of set.nodes) {
        const out = node.program.output;
        assertEquals(count(out, /is unreachable/), 1, `logged once:\n${out}`);
        assert(/reachable again/.test(out), `the return is logged:\n${out}`);
      }
    } finally {
      await Promise.all(locals.map((l) => l.stop()));
      await endpoint.close();
      await set.stop();
    }
  },
});

Deno.test({
  name: "a usage batch retried after its commit reply was lost is counted once",
  ignore,
  async fn() {
    const c = await pg();
    const { url, name } = await c.createDatabase();
    const store = new PostgresStore(url);
    try {
      await store.migrate();
      const alice = await store.add("alice", "a");
      let lose = true;
      // The commit happens, then the connection "drops" before the reply arrives.
      const flaky = new Proxy(store, {
        get(target, property) {
          if (property !== "addUsage") {
            const value = Reflect.get(target, property);
            return typeof value === "function" ? value.bind(target) : value; // private fields
          }
          return async (deltas: UsageDelta[], batch?: UsageBatch) => {
            await target.addUsage(deltas, batch);
            if (lose) {
              lose = false;
              throw new Error("write CONNECTION_CLOSED");
            }
          };
        },
      });
      const outbox = new UsageOutbox(flaky, { node: "n1" });
      outbox.add([{ id: alice.id, up: 100, down: 1000, openConns: 0 }]);
      assertEquals(await outbox.deliver(), [], "the first try looks failed");
      outbox.add([{ id: alice.id, up: 1, down: 10, openConns: 0 }]);
      assertEquals((await outbox.deliver()).length, 2, "retried, then the next batch");
      const row = (await store.get("alice"))!;
      assertEquals([row.bytesUp, row.bytesDown], [101, 1010]);
    } finally {
      await store.close();
      await c.dropDatabase(name);
    }
  },
});

Deno.test({
  name: "serve with the database down starts from its cache, and refuses with none",
  ignore,
  async fn() {
    const c = await pg();
    const set = await NodeSet.start(c, 1);
    const endpoint = startEndpoint();
    // A password in the URL (ignored by the test cluster's trust login) must never be printed.
    const url = set.url.replace("swiftproxy@", "swiftproxy:hunter2@");
    const fresh = await Deno.makeTempDir({ prefix: "swiftproxy-fresh-" });
    let local: LocalFixture | undefined;
    let second: NodeFixture | undefined;
    try {
      // The node has cached the users (its first read writes the file).
      const cache = `${set.nodes[0]!.dir}/users-cache.json`;
      for (let i = 0; i < 100 && !await Deno.stat(cache).then(() => true, () => false); i++) {
        await delay(100);
      }
      await set.nodes[0]!.stop();
      await c.pause();
      const refused = await runProgram(
        remoteArgs("serve", "--init", "--data", fresh, "--node", "x", "--listen", "127.0.0.1:1"),
        { env: { SWIFTPROXY_DB: url } },
      );
      assertEquals(refused.code, 1, refused.stderr);
      assert(/cannot reach the users database/.test(refused.stderr), refused.stderr);
      assert(/no cached users or spooled usage/.test(refused.stderr), refused.stderr);
      assert(!(refused.stdout + refused.stderr).includes("hunter2"), "the password was printed");

      second = new NodeFixture("node1", set.nodes[0]!.dir, { SWIFTPROXY_DB: url });
      await second.serve();
      assert(/is unreachable/.test(second.program.output), second.program.output);
      assert(!second.program.output.includes("hunter2"), "the password was logged");
      local = await LocalFixture.start(second);
      const moved = await download(local.port, endpoint, 1 * MiB);
      assertEquals(moved.total, 1 * MiB, "alice is served from the cache");
      await second.stop();
      assert(Deno.statSync(`${second.dir}/usage-spool.json`).isFile, "usage spooled");
      await c.resume();
      await second.serve();
      await set.usageLands("alice", 1 * MiB);
      assertEquals((await userRow(set, "alice")).bytesDown, 1 * MiB, "the spool was flushed");
    } finally {
      await c.resume().catch(() => {});
      await local?.stop();
      await second?.stop();
      await endpoint.close();
      await set.stop();
      await Deno.remove(fresh, { recursive: true });
    }
  },
});

Deno.test({ name: "this file's PostgreSQL stops", ignore, fn: async () => (await pg()).stop() });

export { Program };
