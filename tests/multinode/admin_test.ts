/**
 * The admin's side on many nodes, real `serve --node --admin` processes on one real
 * PostgreSQL: one admin account (made with `admin passwd --db`) signs in to every node's panel,
 * a monthly reset due when the nodes start is done once, and the usage history (the panel's
 * charts) adds up the traffic of every node.
 */
import { assert, assertEquals } from "../_assert.ts";
import { delay, LocalFixture, remoteArgs, runProgram } from "../_harness.ts";
import { freePort } from "../_net.ts";
import { POSTGRES_MISSING, startCluster } from "../_postgres.ts";
import { download, MiB, startEndpoint, userRow } from "../limits/_traffic.ts";
import { AdminClient } from "../remote/admin/_admin.ts";
import { NodeSet } from "./_nodes.ts";
import type { NodeFixture } from "./_nodes.ts";

const ignore = POSTGRES_MISSING !== undefined;
const ADMIN_PASSWORD = "one panel password for all";

/** How many times `pattern` occurs in `text`. */
const count = (text: string, pattern: RegExp) => text.match(new RegExp(pattern, "g"))?.length ?? 0;

Deno.test({
  name: "one admin account, one monthly reset and one usage history for all nodes",
  ignore,
  async fn() {
    const panels = new Map<NodeFixture, number>();
    const set = await NodeSet.start(await startCluster(), 2, { alice: "alice-secret" }, {
      async prepare(set) {
        // --db on the command line rather than SWIFTPROXY_DB, as an admin would type it.
        const made = await runProgram(
          remoteArgs(
            "admin",
            "passwd",
            "--password",
            ADMIN_PASSWORD,
            "--db",
            set.url,
            "--data",
            set.nodes[0]!.dir,
          ),
        );
        assertEquals(made.code, 0, made.stderr);
        // alice's billing day came while no node ran: both nodes find the reset due at start.
        await set.user("set", "alice", "--reset-day", "1");
        await set.sql("UPDATE users SET bytes_down = 5000, last_reset_at = 0");
      },
      extra(node) {
        const port = freePort();
        panels.set(node, port);
        return ["--admin", `127.0.0.1:${port}`];
      },
    });
    const locals = await Promise.all(set.nodes.map((n) => LocalFixture.start(n)));
    const endpoint = startEndpoint();
    try {
      const clients = set.nodes.map((n) => new AdminClient(`http://127.0.0.1:${panels.get(n)}`));
      for (const client of clients) {
        assertEquals((await client.login(ADMIN_PASSWORD)).status, 200, client.origin);
      }

      let alice = await userRow(set, "alice");
      for (let i = 0; i < 40 && alice.bytesDown !== 0; i++) {
        await delay(100);
        alice = await userRow(set, "alice");
      }
      assertEquals(alice.bytesDown, 0, "the monthly reset was done");
      await delay(1000); // the other node's check at start has run by now too
      const resets = set.nodes.map((n) => count(n.program.output, /monthly reset of alice/));
      assertEquals(resets.reduce((a, b) => a + b), 1, `resets per node: ${resets}`);

      await Promise.all(locals.map((l) => download(l.port, endpoint, 1 * MiB)));
      // Each node writes its history every 5 s; either panel shows the sum of both.
      let total = 0;
      for (let i = 0; i < 80 && total < 2 * MiB; i++) {
        await delay(100);
        const reply = await clients[0]!.call("GET", "/api/history?user=alice&range=24h");
        assertEquals(reply.status, 200);
        total = (reply.body.points as { down: number }[]).reduce((sum, p) => sum + p.down, 0);
      }
      assert(
        total >= 2 * MiB && total <= 2 * MiB * 1.01,
        `node1's chart shows ${total} bytes down; the two nodes moved ${2 * MiB}`,
      );
      assertEquals((await userRow(set, "alice")).bytesDown >= 2 * MiB, true, "usage sums too");
    } finally {
      await Promise.all(locals.map((l) => l.stop()));
      await endpoint.close();
      await set.stop();
    }
  },
});
