/**
 * Usage batches through real nodes on a real PostgreSQL: numbered after what the database
 * holds (a node whose clock is behind still counts), a damaged spool does not stop a node, and
 * a batch the database refuses for its content does not block the ones after it.
 */
import { assert, assertEquals } from "../_assert.ts";
import { delay, LocalFixture } from "../_harness.ts";
import { POSTGRES_MISSING, startCluster } from "../_postgres.ts";
import type { PgCluster } from "../_postgres.ts";
import { download, MiB, startEndpoint, userRow } from "../limits/_traffic.ts";
import { NodeSet } from "./_nodes.ts";
import { formatSpool } from "../../lib/remote/store/usage_spool.ts";

const ignore = POSTGRES_MISSING !== undefined;
let cluster: Promise<PgCluster> | undefined;
const pg = () => cluster ??= startCluster();

/** An hour ahead of this clock, in the microseconds earlier releases numbered batches with. */
const anHourAhead = () => (Date.now() + 3600_000) * 1000;

/** Waits until `check` holds, up to `ms`. */
async function until(check: () => Promise<boolean>, ms = 5000): Promise<void> {
  for (const end = Date.now() + ms; Date.now() < end; await delay(100)) {
    if (await check()) return;
  }
}

Deno.test({
  name: "a node whose clock is behind what the database holds still counts its usage",
  ignore,
  async fn() {
    // The node's last batch was numbered by a clock an hour ahead (another host, an NTP step).
    const set = await NodeSet.start(await pg(), 1, undefined, {
      prepare: (s) =>
        s.sql(`INSERT INTO usage_batches (node, seq) VALUES ('node1', ${anHourAhead()})`)
          .then(() => {}),
    });
    const local = await LocalFixture.start(set.nodes[0]!);
    const endpoint = startEndpoint();
    try {
      for (let i = 0; i < 2; i++) {
        assertEquals((await download(local.port, endpoint, 2 * MiB)).total, 2 * MiB);
      }
      await until(async () => (await userRow(set, "alice")).bytesDown >= 4 * MiB);
      // Meanwhile another process writes as node1 with higher numbers: refused, logged, and
      // numbered again after them, so nothing is lost either.
      await set.sql(`UPDATE usage_batches SET seq = seq + 1000000000 WHERE node = 'node1'`);
      assertEquals((await download(local.port, endpoint, 2 * MiB)).total, 2 * MiB);
      await until(async () => (await userRow(set, "alice")).bytesDown >= 6 * MiB);
      const out = set.nodes[0]!.program.output;
      assertEquals((await userRow(set, "alice")).bytesDown, 6 * MiB, `3 × 2 MiB counted:\n${out}`);
      assert(/usage batch \d+ of node node1 was refused/.test(out), `refusal logged:\n${out}`);
    } finally {
      await local.stop();
      await endpoint.close();
      await set.stop();
    }
  },
});

/** A spooled batch of node `node` with alice's (id 1) usage. */
const batch = (node: string, seq: number, down: number, openConns = 0) => ({
  node,
  seq,
  deltas: [{ id: 1, up: 0, down, openConns }],
});

/** The download bytes `user list --by-node` shows for `node`. */
async function downOf(set: NodeSet, node: string): Promise<number> {
  const rows = JSON.parse(await set.user("list", "--by-node", "--json")) as {
    node: string;
    bytesDown: number;
  }[];
  return rows.find((u) => u.node === node)?.bytesDown ?? 0;
}

Deno.test({
  name: "a damaged spool is moved aside with a warning, what can be read counts, the node serves",
  ignore,
  async fn() {
    const set = await NodeSet.start(await pg(), 2, undefined, {
      prepare(s) {
        const [empty, cut] = s.nodes.map((n) => `${n.dir}/usage-spool.json`);
        // A power loss during a write left an empty file.
        Deno.writeTextFileSync(empty!, "");
        // Cut short in its second batch: the first is kept.
        const whole = formatSpool([batch("node2", 1, 1000), batch("node2", 2, 2000)]);
        Deno.writeTextFileSync(cut!, whole.slice(0, whole.length - 20));
        return Promise.resolve();
      },
    });
    const local = await LocalFixture.start(set.nodes[0]!);
    const endpoint = startEndpoint();
    try {
      assertEquals((await download(local.port, endpoint, 1 * MiB)).total, 1 * MiB, "serves");
      // Each node sends what it read from its spool on its own flush: wait for both.
      await until(async () =>
        await downOf(set, "node1") >= 1 * MiB && await downOf(set, "node2") >= 1000
      );
      const outputs = set.nodes.map((n) => n.program.output);
      assertEquals(await downOf(set, "node1"), 1 * MiB, outputs[0]);
      assertEquals(await downOf(set, "node2"), 1000, `the cut file's whole batch:\n${outputs[1]}`);
      for (const [i, out] of outputs.entries()) {
        assert(/usage spool .* is damaged/.test(out), `warned:\n${out}`);
        const dir = set.nodes[i]!.dir;
        const aside = [...Deno.readDirSync(dir)].filter((e) => e.name.includes(".damaged-"));
        assertEquals(aside.length, 1, `moved aside in ${dir}`);
      }
    } finally {
      await local.stop();
      await endpoint.close();
      await set.stop();
    }
  },
});

Deno.test({
  name: "a batch the database refuses for its content is set aside and later batches count",
  ignore,
  async fn() {
    const set = await NodeSet.start(await pg(), 1, undefined, {
      prepare(s) {
        // A spool (as earlier releases wrote it) whose first batch PostgreSQL refuses
        // (openConns is an INTEGER), then one it takes.
        Deno.writeTextFileSync(
          `${s.nodes[0]!.dir}/usage-spool.json`,
          JSON.stringify({
            spool: 1,
            batches: [batch("node1", 1, 7, 2 ** 31), batch("node1", 2, 500)],
          }),
        );
        return Promise.resolve();
      },
    });
    const local = await LocalFixture.start(set.nodes[0]!);
    const endpoint = startEndpoint();
    try {
      assertEquals((await download(local.port, endpoint, 1 * MiB)).total, 1 * MiB);
      await until(async () => await downOf(set, "node1") >= 1 * MiB + 500);
      const out = set.nodes[0]!.program.output;
      assertEquals(await downOf(set, "node1"), 1 * MiB + 500, `later batches flowed:\n${out}`);
      assert(/refused usage batch 1 of node node1/.test(out), `error line:\n${out}`);
      const setAside = Deno.readTextFileSync(`${set.nodes[0]!.dir}/usage-refused.jsonl`);
      assert(setAside.includes(String(2 ** 31)), setAside);
    } finally {
      await local.stop();
      await endpoint.close();
      await set.stop();
    }
  },
});

Deno.test({ name: "this file's PostgreSQL stops", ignore, fn: async () => (await pg()).stop() });
