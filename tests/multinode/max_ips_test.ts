/**
 * The device limit across nodes, real `serve --node` processes on one real PostgreSQL: alice
 * (`--max-ips 2`) holds a tunnel from 127.0.0.2 through one node and one from 127.0.0.3
 * through the other; a third address is refused by either node, and told why, while both
 * tunnels keep working.
 */
import { assert, assertEquals } from "../_assert.ts";
import { delay, readUntil } from "../_harness.ts";
import { startEcho } from "../_net.ts";
import { POSTGRES_MISSING, startCluster } from "../_postgres.ts";
import { holdTunnel, statusFrom } from "../remote/_places.ts";
import { NodeSet } from "./_nodes.ts";

Deno.test({
  name: "--max-ips 2 over two nodes: the third address refused on either, the two keep working",
  ignore: POSTGRES_MISSING !== undefined,
  async fn() {
    await using cleanup = new AsyncDisposableStack();
    const echo = cleanup.adopt(startEcho(), (e) => e.close());
    const set = await NodeSet.start(await startCluster(), 2, { alice: "alice-secret" }, {
      prepare: (set) => set.user("set", "alice", "--max-ips", "2").then(() => {}),
    });
    cleanup.defer(() => set.stop());
    const one = set.nodes[0]!, two = set.nodes[1]!;
    const credential = "alice:alice-secret";
    const a = await holdTunnel(one, credential, "127.0.0.2", echo.port);
    cleanup.defer(() => a.close());
    const b = await holdTunnel(two, credential, "127.0.0.3", echo.port);
    cleanup.defer(() => b.close());

    // Each node learns the other's address with its next heartbeat (about a second).
    const deadline = Date.now() + 5_000;
    let refusals: (string | null | undefined)[] = [];
    while (Date.now() < deadline) {
      refusals = await Promise.all(
        set.nodes.map(async (n) => (await statusFrom(n, credential, "127.0.0.4"))?.refusal),
      );
      if (refusals.every((r) => r === "max-ips")) break;
      await delay(200);
    }
    assertEquals(refusals, ["max-ips", "max-ips"]);
    const status = await statusFrom(one, credential, "127.0.0.4");
    assertEquals(status?.otherPlaces, 2);
    let refused = false;
    await holdTunnel(two, credential, "127.0.0.4", echo.port).catch(() => refused = true);
    assert(refused, "a tunnel from a third address got through");

    assert(await a.echo("still 2"), "127.0.0.2 lost its tunnel");
    assert(await b.echo("still 3"), "127.0.0.3 lost its tunnel");
    // The same address may open more, on either node.
    (await holdTunnel(two, credential, "127.0.0.2", echo.port)).close();

    // The addresses with their last-seen time, for the admin, from the shared database (each
    // node writes its own with its usage, about once a second).
    const seen = await readUntil(async () => {
      const [row] = JSON.parse(await set.user("list", "--json"));
      return row.addresses.map((s: { address: string }) => s.address).sort() as string[];
    }, (addresses) => addresses.length === 2);
    assertEquals(seen, ["127.0.0.2", "127.0.0.3"]);
  },
});
