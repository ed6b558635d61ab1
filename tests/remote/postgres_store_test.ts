/**
 * The PostgreSQL users store passes the store contract, each test on its own database in one
 * throwaway cluster; and what only a shared store does: nodes, loads, usage per node.
 */
import { assert, assertEquals } from "../_assert.ts";
import { PostgresStore } from "../../lib/remote/postgres_store.ts";
import { POSTGRES_MISSING, startCluster } from "../_postgres.ts";
import type { PgCluster } from "../_postgres.ts";
import { userStoreContract } from "./_user_store_contract.ts";
import { redactUrl } from "../../lib/remote/store_url.ts";

const cluster: PgCluster | undefined = POSTGRES_MISSING ? undefined : await startCluster();

if (cluster) {
  userStoreContract("PostgresStore", async () => {
    const { url, name } = await cluster.createDatabase();
    return {
      open: () => Promise.resolve(new PostgresStore(url)),
      async setSchemaVersion(version) {
        await cluster.sql(`UPDATE swiftproxy_schema SET version = ${version}`, name);
      },
      cleanup: () => cluster.dropDatabase(name),
    };
  });
}

/** A test on a fresh migrated database, skipped (visibly, by name) without PostgreSQL. */
function pgTest(what: string, body: (store: PostgresStore) => Promise<void>): void {
  Deno.test({
    name: `PostgresStore: ${what}`,
    ignore: cluster === undefined,
    async fn() {
      const { url, name } = await cluster!.createDatabase();
      const store = new PostgresStore(url);
      try {
        await store.migrate();
        await body(store);
      } finally {
        await store.close();
        await cluster!.dropDatabase(name);
      }
    },
  });
}

const beat = (name: string, loads: { userId: number; rateDown: number }[] = []) => ({
  name,
  listen: "127.0.0.1:1",
  version: "test",
  startedAt: 1,
  openConns: 0,
  rateUp: 0,
  rateDown: 0,
  loads: loads.map((l) => ({ ...l, rateUp: 0, hungryUp: false, hungryDown: true })),
});

pgTest("usage is kept per node and summed; open connections count on live nodes", async (store) => {
  const alice = await store.add("alice", "a");
  await store.register(beat("n1"));
  await store.register(beat("n2"));
  await store.addUsage([{ id: alice.id, up: 1, down: 10, openConns: 2 }], { node: "n1", seq: 1 });
  await store.addUsage([{ id: alice.id, up: 2, down: 20, openConns: 1 }], { node: "n2", seq: 1 });
  const a = (await store.get("alice"))!;
  assertEquals([a.bytesUp, a.bytesDown, a.openConns], [3, 30, 3]);
  assertEquals(
    (await store.usageByNode()).map((u) => [u.user, u.node, u.bytesDown, u.openConns]),
    [["alice", "n1", 10, 2], ["alice", "n2", 20, 1]],
  );
  await store.resetUsage("alice");
  assertEquals((await store.usageByNode()).map((u) => u.bytesDown), [0, 0]);
});

pgTest("a heartbeat returns the other live nodes' loads", async (store) => {
  const alice = await store.add("alice", "a");
  await store.register(beat("n1"));
  await store.register(beat("n2"));
  await store.addUsage([{ id: alice.id, up: 0, down: 0, openConns: 2 }], { node: "n2", seq: 1 });
  await store.heartbeat(beat("n2", [{ userId: alice.id, rateDown: 500 }]));
  const peers = await store.heartbeat(beat("n1", [{ userId: alice.id, rateDown: 100 }]));
  assertEquals(peers.map((p) => [p.node, p.userId, p.openConns, p.rateDown, p.hungryDown]), [[
    "n2",
    alice.id,
    2,
    500,
    true,
  ]]);
  const nodes = await store.nodes();
  assertEquals(nodes.map((n) => [n.name, n.alive, n.activeUsers]), [["n1", true, 1], [
    "n2",
    true,
    1,
  ]]);
});

pgTest("a second run of a live node's name is told who holds it", async (store) => {
  assertEquals(await store.register(beat("n1")), undefined);
  const other = await store.register({ ...beat("n1"), startedAt: 2 });
  assert(other && other.startedAt === 1, `the live run: ${JSON.stringify(other)}`);
});

Deno.test("redactUrl hides the password of a database URL, wherever it is quoted", () => {
  assertEquals(
    redactUrl("cannot reach postgres://node:s3cr:et@db.internal:5432/swiftproxy now"),
    "cannot reach postgres://node:***@db.internal:5432/swiftproxy now",
  );
  assertEquals(
    redactUrl("postgresql://db/x?password=hunter2&ssl=1"),
    "postgresql://db/x?password=***&ssl=1",
  );
  assertEquals(redactUrl("postgres://node@db/x"), "postgres://node@db/x");
});
