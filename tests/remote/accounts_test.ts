/**
 * The server's usage accounting: one counter per direction (what the relay sent), from which
 * the bytes not yet handed on, those waiting in the outbox for the database and the bytes used
 * are derived, so nothing is counted twice or dropped while the database does not answer.
 */
import { assertEquals } from "../_assert.ts";
import { Accounts } from "../../lib/remote/users/accounts.ts";
import { openSqliteStore } from "../../lib/remote/store/sqlite_store.ts";
import { UsageOutbox } from "../../lib/remote/store/usage_spool.ts";
import type { UsageBatch, UsageDelta, UserStore } from "../../lib/remote/store/user_store.ts";

Deno.test("usage waiting for an unreachable database counts once, then lands once", async () => {
  const sqlite = await openSqliteStore(":memory:");
  let down = false;
  // The store as a node sees it: its usage writes fail while the database is away.
  const store = new Proxy(sqlite, {
    get(target, property) {
      if (property !== "addUsage") {
        const value = Reflect.get(target, property);
        return typeof value === "function" ? value.bind(target) : value; // private fields
      }
      return (deltas: UsageDelta[], batch?: UsageBatch) =>
        down ? Promise.reject(new Error("connection refused")) : target.addUsage(deltas, batch);
    },
  }) as UserStore;
  try {
    await store.add("alice", "alice-secret", { quota: 10_000 });
    const accounts = new Accounts(store, new UsageOutbox(store, { node: "n1" }));
    await accounts.reload();
    const alice = accounts.byName("alice")!;
    const figures = () => ({
      sent: alice.sentDown,
      unflushed: alice.unflushedDown,
      pending: alice.pendingDown,
      used: alice.usedDown,
    });

    alice.down.sent!(1000);
    assertEquals(figures(), { sent: 1000, unflushed: 1000, pending: 0, used: 1000 });
    down = true;
    await accounts.flush();
    assertEquals(figures(), { sent: 1000, unflushed: 0, pending: 1000, used: 1000 });
    alice.down.sent!(500);
    await accounts.flush();
    assertEquals(figures(), { sent: 1500, unflushed: 0, pending: 1500, used: 1500 });
    assertEquals((await sqlite.get("alice"))!.bytesDown, 0, "nothing reached the database");
    assertEquals(alice.refusal(), null, "1500 of 10000 bytes used");

    down = false;
    await accounts.flush();
    assertEquals(figures(), { sent: 1500, unflushed: 0, pending: 0, used: 1500 });
    assertEquals((await sqlite.get("alice"))!.bytesDown, 1500, "all of it, once");
    await store.setLimits("alice", { quota: 1500 }); // a change: the next reload re-reads
    await accounts.reload();
    assertEquals(alice.usedDown, 1500, "the stored bytes are not added to the flushed again");
    assertEquals(alice.refusal(), "over quota");
  } finally {
    await sqlite.close();
  }
});
