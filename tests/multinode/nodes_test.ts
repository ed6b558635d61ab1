/**
 * Three real `serve --node` processes on one real PostgreSQL database, a real local on each:
 * users and changes reach every node within a second, usage through all of them sums to the
 * bytes moved (one user's limits across them: `node_limits_test.ts`).
 */
import { assert, assertEquals } from "../_assert.ts";
import { delay, remoteArgs, runProgram } from "../_harness.ts";
import { POSTGRES_MISSING } from "../_postgres.ts";
import { download, KiB, MiB, startEndpoint, userRow } from "../limits/_traffic.ts";
import { loginWorks, nodesOnceForFile } from "./_nodes.ts";

const ignore = POSTGRES_MISSING !== undefined;

/** The nodes and a local on each, started once for the whole file. */
const nodes = nodesOnceForFile(3);

/** Waits until `check` holds, up to `ms`; returns how long it took. */
async function within(ms: number, check: () => Promise<boolean>): Promise<number> {
  const started = performance.now();
  while (performance.now() - started < ms) {
    if (await check()) return performance.now() - started;
    await delay(25);
  }
  throw new Error(`not within ${ms} ms`);
}

Deno.test({
  name: "every node is listed alive, and a user added on one is served by all within 1 s",
  ignore,
  async fn() {
    const { set } = await nodes();
    const listed = JSON.parse(await set.remote("node", "list", "--json")) as {
      name: string;
      alive: boolean;
    }[];
    assertEquals(listed.map((n) => [n.name, n.alive]), [
      ["node1", true],
      ["node2", true],
      ["node3", true],
    ]);
    assert((await set.remote("node", "list")).includes("alive"), "the table says alive");
    await set.user("add", "carol", "--password", "carol-secret");
    const added = performance.now();
    const times = await Promise.all(set.nodes.map(async (node) => {
      await within(3000, () => loginWorks(node, "carol", "carol-secret"));
      return performance.now() - added;
    }));
    assert(times.every((t) => t < 1000), `carol was served after ${times.map(Math.round)} ms`);
  },
});

Deno.test({
  name: "disabling a user closes their connections on every node within 1 s",
  ignore,
  async fn() {
    const { set, locals } = await nodes();
    const endpoint = startEndpoint();
    try {
      await set.user("set", "alice", "--down", "300KiB");
      await delay(1200);
      const transfers = locals.map((l) => download(l.port, endpoint, 100 * MiB));
      await delay(1500);
      await set.user("disable", "alice");
      const disabled = performance.now();
      const counters = await Promise.all(transfers);
      const cutAfter = counters.map((c) => c.ended! - disabled);
      assert(counters.every((c) => c.cut && c.total > 0), "each transfer ran, then was cut");
      assert(cutAfter.every((t) => t < 1000), `cut after ${cutAfter.map(Math.round)} ms`);
      assert(!await loginWorks(set.nodes[1]!, "alice", "alice-secret"), "alice is refused");
    } finally {
      await set.user("enable", "alice");
      await set.user("set", "alice", "--down", "0");
      await endpoint.close();
    }
  },
});

Deno.test({
  name: "usage through three nodes sums to the bytes moved, and is shown per node",
  ignore,
  async fn() {
    const { set, locals } = await nodes();
    const endpoint = startEndpoint();
    try {
      await set.usageSettles("alice");
      await set.user("reset-usage", "alice");
      await delay(1200);
      const sizes = [3 * MiB, 5 * MiB, 7 * MiB];
      const counters = await Promise.all(
        locals.map((l, i) => download(l.port, endpoint, sizes[i]!)),
      );
      assertEquals(counters.map((c) => c.total), sizes);
      const moved = sizes.reduce((a, b) => a + b, 0);
      await delay(1500);
      const row = await userRow(set, "alice");
      assert(
        Math.abs(row.bytesDown - moved) <= moved * 0.01,
        `user list shows ${row.bytesDown} bytes down, ${moved} were moved`,
      );
      const byNode = JSON.parse(await set.user("list", "--by-node", "--json")) as {
        user: string;
        node: string;
        bytesDown: number;
      }[];
      const alice = byNode.filter((u) => u.user === "alice").map((u) => [u.node, u.bytesDown]);
      assertEquals(alice, [["node1", 3 * MiB], ["node2", 5 * MiB], ["node3", 7 * MiB]]);
    } finally {
      await endpoint.close();
    }
  },
});

Deno.test("serve refuses a --node name with a newline, an escape or a bidi override", async () => {
  for (const name of ["eu-1\n2026-01-01 [INF] forged", "eu-\x1b[31m1", "eu-\u202e1", " eu-1"]) {
    const out = await runProgram(remoteArgs("serve", "--node", name, "--listen", "127.0.0.1:1"));
    assertEquals(out.code, 2, out.stderr);
    assert(/^error: --node: expected a node name/.test(out.stderr), out.stderr);
    // deno-lint-ignore no-control-regex
    assert(!/[\x00-\x09\x0b-\x1f\u202e]|\n2026/.test(out.stderr), "the name is not echoed raw");
  }
});

Deno.test({
  name: "node list and user list --by-node escape a name's control characters, as the logs do",
  ignore,
  async fn() {
    const { set } = await nodes();
    // A name written before names were checked, or straight into the database.
    const evil = "evil\n2026-01-01 forged\x1b[31m";
    const quoted = `E'${evil.replace("\n", "\\n").replace("\x1b", "\\x1b")}'`;
    await set.sql(
      `INSERT INTO nodes (name, listen, version, started_at, seen_at) VALUES (${quoted}, ` +
        `'127.0.0.1:1', 'x', 0, now());
       INSERT INTO node_usage (user_id, node) SELECT id, ${quoted} FROM users
         WHERE name = 'alice'`,
    );
    try {
      for (
        const out of [
          await set.remote("node", "list"),
          await set.remote("user", "list", "--by-node"),
        ]
      ) {
        assert(!out.includes("\x1b") && !/\nforged|\n2026/.test(out), `printed raw: ${out}`);
        assert(out.includes("evil\\n2026-01-01 forged\\x1b[31m"), `escaped: ${out}`);
      }
    } finally {
      await set.sql(
        `DELETE FROM node_usage WHERE node = ${quoted}; DELETE FROM nodes WHERE name = ${quoted}`,
      );
    }
  },
});

Deno.test({
  name: "a quota is enforced across nodes: usage on one node counts on the others",
  ignore,
  async fn() {
    const { set, locals } = await nodes();
    const endpoint = startEndpoint();
    try {
      // Usage the nodes counted before (an earlier test's transfers) lands within a second or
      // two; a reset before it has landed would not cover it.
      await delay(2_000);
      await set.user("reset-usage", "alice");
      await set.user("set", "alice", "--quota", "6MiB");
      await delay(1200);
      const first = await download(locals[0]!.port, endpoint, 4 * MiB);
      assertEquals(first.total, 4 * MiB);
      await delay(1500);
      const second = await download(locals[1]!.port, endpoint, 4 * MiB);
      assert(second.cut, "the second node let alice past her quota");
      assert(
        second.total <= 2 * MiB + 256 * KiB,
        `the second node moved ${second.total} bytes; 2 MiB were left of the quota`,
      );
      await delay(1500);
      assert(!await loginWorks(set.nodes[2]!, "alice", "alice-secret"), "over quota on node3");
    } finally {
      await set.user("set", "alice", "--quota", "0");
      await endpoint.close();
    }
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
