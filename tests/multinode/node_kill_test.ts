/**
 * A node SIGKILLed in the middle of a transfer, with real nodes on a real PostgreSQL: it loses
 * at most a second of its usage and the other node is unaffected.
 */
import { assert, assertEquals } from "../_assert.ts";
import { delay, LocalFixture } from "../_harness.ts";
import { POSTGRES_MISSING, startCluster } from "../_postgres.ts";
import type { PgCluster } from "../_postgres.ts";
import { Counter, download, MiB, startEndpoint } from "../limits/_traffic.ts";
import { NodeSet } from "./_nodes.ts";

const ignore = POSTGRES_MISSING !== undefined;
let cluster: Promise<PgCluster> | undefined;
const pg = () => cluster ??= startCluster();

Deno.test({
  name: "a node SIGKILLed loses at most a second of its usage; the other node is unaffected",
  ignore,
  async fn() {
    const set = await NodeSet.start(await pg(), 2);
    const locals = await Promise.all(set.nodes.map((n) => LocalFixture.start(n)));
    const endpoint = startEndpoint();
    try {
      await set.user("set", "alice", "--down", "2MiB");
      await delay(1200);
      const victim = new Counter();
      const survivor = download(locals[0]!.port, endpoint, 8 * MiB);
      const killed = download(locals[1]!.port, endpoint, 100 * MiB, victim);
      await delay(2500);
      await set.nodes[1]!.program.stop("SIGKILL");
      await killed;
      const moved = await survivor;
      assertEquals(moved.total, 8 * MiB, "the other node's transfer finished");
      await set.usageLands("alice", 8 * MiB, "node1");
      const byNode = JSON.parse(await set.user("list", "--by-node", "--json")) as {
        node: string;
        bytesDown: number;
      }[];
      const one = byNode.find((u) => u.node === "node1")!;
      const two = byNode.find((u) => u.node === "node2")!;
      assertEquals(one.bytesDown, 8 * MiB, "the surviving node's usage is exact");
      const lost = victim.total - two.bytesDown;
      assert(
        lost >= 0 && lost <= 2 * MiB,
        `the killed node delivered ${victim.total} bytes and wrote ${two.bytesDown}: ` +
          "more than a second of its traffic was lost",
      );
    } finally {
      await Promise.all(locals.map((l) => l.stop()));
      await endpoint.close();
      await set.stop();
    }
  },
});

Deno.test({ name: "this file's PostgreSQL stops", ignore, fn: async () => (await pg()).stop() });
