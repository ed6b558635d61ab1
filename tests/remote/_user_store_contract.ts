/**
 * The contract every users store passes: one suite, run against each implementation with its
 * own factory (SQLite in `sqlite_store_test.ts`, PostgreSQL in `postgres_store_test.ts`).
 */
import { assert, assertEquals, assertRejects } from "../_assert.ts";
import {
  keyForCredential,
  SchemaVersionError,
  UsageRefusedError,
  UserError,
} from "../../lib/remote/store/user_store.ts";
import type { UserStore } from "../../lib/remote/store/user_store.ts";

/** One fresh, empty database, and ways to reach it. */
export interface StoreFixture {
  /** A new connection to this fixture's database, not migrated. */
  open(): Promise<UserStore>;
  /** Makes the database look written by a newer program: its schema version set to `version`. */
  setSchemaVersion(version: number): Promise<void>;
  /** Drops the database. */
  cleanup(): Promise<void>;
}

/**
 * Registers the contract tests for the store `name`; `makeFixture` gives each test its own
 * empty database.
 *
 * @example userStoreContract("SqliteStore", async () => sqliteFixture());
 */
export function userStoreContract(name: string, makeFixture: () => Promise<StoreFixture>): void {
  /** Runs `body` with a migrated store on a fresh database, then cleans up. */
  function test(what: string, body: (store: UserStore, fixture: StoreFixture) => Promise<void>) {
    Deno.test(`${name}: ${what}`, async () => {
      const fixture = await makeFixture();
      const store = await fixture.open();
      try {
        await store.migrate();
        await body(store, fixture);
      } finally {
        await store.close();
        await fixture.cleanup();
      }
    });
  }

  Deno.test(`${name}: migrations create the schema in an empty database, once`, async () => {
    const fixture = await makeFixture();
    const store = await fixture.open();
    try {
      assertEquals(await store.schemaVersion(), 0, "an empty database");
      await store.migrate();
      const version = await store.schemaVersion();
      assert(version > 0, `schema version after migrating: ${version}`);
      assertEquals(await store.list(), []);
      await store.migrate();
      assertEquals(await store.schemaVersion(), version, "migrating again changes nothing");
    } finally {
      await store.close();
      await fixture.cleanup();
    }
  });

  Deno.test(`${name}: a database from a newer program is refused`, async () => {
    const fixture = await makeFixture();
    let store = await fixture.open();
    try {
      await store.migrate();
      const version = await store.schemaVersion();
      await store.close();
      await fixture.setSchemaVersion(version + 1);
      store = await fixture.open();
      await assertRejects(() => store.migrate(), SchemaVersionError, "newer than this program");
    } finally {
      await store.close();
      await fixture.cleanup();
    }
  });

  test("add, get and list: ordered by name, defaults filled in, limits kept", async (store) => {
    const before = Date.now();
    await store.add("carol", "c-secret");
    await store.add("alice", "a-secret", { upLimit: 1000, quota: 5000, expiresAt: 1_900_000_000 });
    await store.add("bob", "b-secret");
    assertEquals((await store.list()).map((u) => u.name), ["alice", "bob", "carol"]);
    const carol = (await store.get("carol"))!;
    assertEquals(
      { ...carol, id: 0, createdAt: 0, updatedAt: 0 },
      {
        id: 0,
        name: "carol",
        key: keyForCredential("carol", "c-secret"),
        upLimit: 0,
        downLimit: 0,
        quota: 0,
        maxConns: 0,
        enabled: true,
        expiresAt: null,
        bytesUp: 0,
        bytesDown: 0,
        openConns: 0,
        createdAt: 0,
        updatedAt: 0,
      },
    );
    assert(carol.createdAt >= before && carol.updatedAt >= carol.createdAt, "times are now");
    const alice = (await store.get("alice"))!;
    assertEquals([alice.upLimit, alice.quota, alice.expiresAt], [1000, 5000, 1_900_000_000]);
    assertEquals(await store.get("nobody"), undefined);
    assertEquals((await store.findByKey(keyForCredential("alice", "a-secret")))?.name, "alice");
    assertEquals(await store.findByKey(keyForCredential("alice", "wrong")), undefined);
  });

  test("a duplicate or invalid name is refused", async (store) => {
    await store.add("alice", "a-secret");
    await assertRejects(
      () => store.add("alice", "other"),
      UserError,
      'user "alice" already exists',
    );
    await assertRejects(() => store.add("no:colons", "x"), UserError, "expected a user name");
    assertEquals((await store.list()).length, 1);
  });

  test("a name that differs from a stored one only in case is refused", async (store) => {
    await store.add("alice", "a-secret");
    for (const twin of ["ALICE", "Alice", "aLiCe"]) {
      await assertRejects(
        () => store.add(twin, "other-secret"),
        UserError,
        `"${twin}" differs from it only in case`,
      );
    }
    assertEquals((await store.list()).map((u) => u.name), ["alice"]);
    await store.add("alice2", "other-secret");
  });

  test("every change to an unknown name is refused", async (store) => {
    const changes: [string, () => Promise<unknown>][] = [
      ["setLimits", () => store.setLimits("nobody", { quota: 1 })],
      ["setPassword", () => store.setPassword("nobody", "x")],
      ["setEnabled", () => store.setEnabled("nobody", false)],
      ["remove", () => store.remove("nobody")],
      ["resetUsage", () => store.resetUsage("nobody")],
    ];
    for (const [what, change] of changes) {
      const error = await assertRejects(change, UserError, 'no user named "nobody"');
      assert(error, what);
    }
  });

  test("setLimits changes only the limits given", async (store) => {
    const added = await store.add("alice", "a", {
      upLimit: 1000,
      quota: 5000,
      maxConns: 3,
      expiresAt: 1_900_000_000,
    });
    let alice = await store.setLimits("alice", { downLimit: 2000 });
    assertEquals(
      [alice.upLimit, alice.downLimit, alice.quota, alice.maxConns, alice.expiresAt],
      [1000, 2000, 5000, 3, 1_900_000_000],
    );
    assert(alice.updatedAt >= added.updatedAt, "updatedAt moves on");
    alice = await store.setLimits("alice", { expiresAt: null, maxConns: 0 });
    assertEquals([alice.expiresAt, alice.maxConns, alice.downLimit], [null, 0, 2000]);
    assertEquals(await store.get("alice"), alice, "what get returns is what setLimits returned");
  });

  test("a new password gives a new key; the old one finds nobody", async (store) => {
    const old = await store.add("alice", "old-secret");
    const changed = await store.setPassword("alice", "new-secret");
    assert(changed.key !== old.key, "the key changed");
    assertEquals(changed.key, keyForCredential("alice", "new-secret"));
    assertEquals(await store.findByKey(old.key), undefined);
    assertEquals((await store.findByKey(changed.key))?.id, old.id);
  });

  test("disable and enable", async (store) => {
    await store.add("alice", "a");
    assertEquals((await store.setEnabled("alice", false)).enabled, false);
    assertEquals((await store.get("alice"))!.enabled, false);
    assertEquals((await store.setEnabled("alice", true)).enabled, true);
  });

  test("remove deletes the user; the name can be added again", async (store) => {
    await store.add("alice", "a");
    await store.add("bob", "b");
    await store.remove("alice");
    assertEquals(await store.get("alice"), undefined);
    assertEquals((await store.list()).map((u) => u.name), ["bob"]);
    await store.add("alice", "again");
    assertEquals((await store.get("alice"))!.key, keyForCredential("alice", "again"));
  });

  test("addUsage adds every delta of a batch; resetUsage sets usage back to zero", async (store) => {
    const alice = await store.add("alice", "a");
    const bob = await store.add("bob", "b");
    await store.addUsage([]);
    const batch = [
      { id: alice.id, up: 10, down: 20, openConns: 1 },
      { id: bob.id, up: 5, down: 6, openConns: 2 },
    ];
    await store.addUsage(batch);
    await store.addUsage([{ ...batch[0]!, openConns: 3 }]);
    const a = (await store.get("alice"))!;
    const b = (await store.get("bob"))!;
    assertEquals([a.bytesUp, a.bytesDown, a.openConns], [20, 40, 3]);
    assertEquals([b.bytesUp, b.bytesDown, b.openConns], [5, 6, 2]);
    const reset = await store.resetUsage("alice");
    assertEquals([reset.bytesUp, reset.bytesDown], [0, 0]);
    assertEquals((await store.get("bob"))!.bytesUp, 5, "only alice is reset");
  });

  test("addUsage is one transaction: a batch that fails adds nothing", async (store) => {
    const alice = await store.add("alice", "a");
    const bob = await store.add("bob", "b");
    await store.addUsage([{ id: alice.id, up: 1, down: 1, openConns: 0 }]);
    let failed = false;
    try {
      // NaN is no count of bytes: every backend refuses it, after alice's delta was applied.
      await store.addUsage([
        { id: alice.id, up: 100, down: 100, openConns: 1 },
        { id: bob.id, up: Number.NaN, down: 1, openConns: 1 },
      ]);
    } catch {
      failed = true;
    }
    assert(failed, "a batch with a NaN delta was accepted");
    const a = (await store.get("alice"))!;
    assertEquals([a.bytesUp, a.bytesDown, a.openConns], [1, 1, 0]);
  });

  test("a usage batch retried with the same node and number is applied once", async (store) => {
    const alice = await store.add("alice", "a");
    const delta = [{ id: alice.id, up: 10, down: 20, openConns: 1 }];
    await store.addUsage(delta, { node: "n1", seq: 5 });
    await store.addUsage(delta, { node: "n1", seq: 5 }); // its commit reply was lost: retried
    await store.addUsage(delta, { node: "n1", seq: 4 }); // older than the last applied
    await store.addUsage(delta, { node: "n2", seq: 5 }); // another node counts on its own
    await store.addUsage(delta, { node: "n1", seq: 6 });
    const a = (await store.get("alice"))!;
    assertEquals([a.bytesUp, a.bytesDown], [30, 60]);
  });

  test("addUsage says whether it applied a batch; lastUsageBatch is its node's last", async (store) => {
    const alice = await store.add("alice", "a");
    const delta = [{ id: alice.id, up: 1, down: 2, openConns: 0 }];
    assertEquals(await store.lastUsageBatch("n1"), 0, "no batch yet");
    assertEquals(await store.addUsage(delta, { node: "n1", seq: 7 }), true);
    assertEquals(await store.addUsage(delta, { node: "n1", seq: 7 }), false, "a retry");
    assertEquals(await store.addUsage(delta, { node: "n1", seq: 3 }), false, "an older one");
    assertEquals(await store.lastUsageBatch("n1"), 7);
    assertEquals(await store.lastUsageBatch("n2"), 0, "each node its own");
  });

  test("a batch refused for its values throws UsageRefusedError", async (store) => {
    const alice = await store.add("alice", "a");
    await assertRejects(
      () => store.addUsage([{ id: alice.id, up: Number.NaN, down: 1, openConns: 0 }]),
      UsageRefusedError,
    );
  });

  test("unlockAdmin moves the admin account's stamp, not its hash", async (store) => {
    assertEquals(await store.adminAccount(), undefined);
    assertEquals(await store.unlockAdmin(), false, "no account to unlock");
    await store.setAdminPasswordHash("scrypt$1");
    const set = (await store.adminAccount())!;
    assertEquals(set.hash, "scrypt$1");
    assertEquals(await store.unlockAdmin(), true);
    const unlocked = (await store.adminAccount())!;
    assertEquals(unlocked.hash, "scrypt$1");
    assert(unlocked.stamp !== set.stamp, "the stamp moved");
    await store.unlockAdmin();
    assert((await store.adminAccount())!.stamp !== unlocked.stamp, "twice in one millisecond");
  });

  test("usage of a user removed meanwhile is dropped; the rest of the batch counts", async (store) => {
    const alice = await store.add("alice", "a");
    const bob = await store.add("bob", "b");
    await store.remove("bob");
    await store.addUsage([
      { id: bob.id, up: 5, down: 5, openConns: 0 },
      { id: alice.id, up: 1, down: 2, openConns: 0 },
    ], { node: "n1", seq: 1 });
    const a = (await store.get("alice"))!;
    assertEquals([a.bytesUp, a.bytesDown], [1, 2]);
  });

  test(
    "changeVersion moves when this or another connection changes a user, not otherwise",
    async (store, fixture) => {
      const other = await fixture.open();
      try {
        const first = await store.changeVersion();
        assertEquals(await store.changeVersion(), first, "nothing committed");
        await other.add("alice", "a");
        const second = await store.changeVersion();
        assert(second !== first, "another connection's add is seen");
        assertEquals((await store.list()).map((u) => u.name), ["alice"]);
        await other.setLimits("alice", { quota: 1 });
        const third = await store.changeVersion();
        assert(third !== second, "another connection's update is seen");
        await store.setEnabled("alice", false);
        assert(await store.changeVersion() !== third, "this connection's own change is seen");
      } finally {
        await other.close();
      }
    },
  );

  test("a monthly reset day is kept, checked, and counted from when it was set", async (store) => {
    const before = Date.now();
    const alice = await store.add("alice", "a", { resetDay: 5 });
    assertEquals(alice.resetDay, 5);
    assert(alice.lastResetAt! >= before, "a new reset day counts from now");
    const bob = await store.add("bob", "b");
    assertEquals([bob.resetDay, bob.lastResetAt], [undefined, undefined], "none: absent");
    const set = await store.setLimits("bob", { resetDay: 28 });
    assertEquals(set.resetDay, 28);
    assert(set.lastResetAt! >= before, "setting a reset day starts its count");
    assertEquals((await store.setLimits("bob", { resetDay: 0 })).resetDay, undefined);
    for (const day of [29, -1, 1.5]) {
      await assertRejects(() => store.add(`u${day}`, "x", { resetDay: day }), UserError, "1 to 28");
      await assertRejects(() => store.setLimits("alice", { resetDay: day }), UserError, "1 to 28");
    }
    assertEquals((await store.get("alice"))!.resetDay, 5, "a refused change wrote nothing");
  });

  test("resetUsageForPeriod resets once per period; a reset by hand counts", async (store) => {
    const alice = await store.add("alice", "a", { resetDay: 1 });
    await store.addUsage([{ id: alice.id, up: 10, down: 20, openConns: 0 }]);
    const setAt = alice.lastResetAt!;
    assertEquals(await store.resetUsageForPeriod("alice", setAt - 1000, setAt + 1), false);
    assertEquals((await store.get("alice"))!.bytesDown, 20, "the period began before it was set");
    assertEquals(await store.resetUsageForPeriod("alice", setAt + 10, setAt + 20), true);
    let after = (await store.get("alice"))!;
    assertEquals([after.bytesUp, after.bytesDown, after.lastResetAt], [0, 0, setAt + 20]);
    await store.addUsage([{ id: alice.id, up: 1, down: 1, openConns: 0 }]);
    assertEquals(await store.resetUsageForPeriod("alice", setAt + 10, setAt + 30), false);
    assertEquals((await store.get("alice"))!.bytesUp, 1, "not twice in one period");
    const byHand = await store.resetUsage("alice", setAt + 40);
    assertEquals(byHand.lastResetAt, setAt + 40, "a reset by hand is the last reset");
    assertEquals(await store.resetUsageForPeriod("alice", setAt + 35, setAt + 50), false);
    after = (await store.get("alice"))!;
    assertEquals(after.lastResetAt, setAt + 40);
    await assertRejects(() => store.resetUsageForPeriod("nobody", 0, 1), UserError, "no user");
  });

  test("usage history: minute and day buckets add up, old ones are forgotten", async (store) => {
    const alice = await store.add("alice", "a");
    const day = Date.UTC(2030, 0, 10);
    await store.addUsageHistory([{ userId: alice.id, up: 1, down: 2 }], day + 5_000);
    await store.addUsageHistory([{ userId: alice.id, up: 10, down: 20 }], day + 50_000);
    await store.addUsageHistory([
      { userId: alice.id, up: 100, down: 200 },
      { userId: 0, up: 7, down: 8 },
      { userId: 99, up: 0, down: 0 },
    ], day + 61_000);
    assertEquals(await store.usageHistory(alice.id, "minute", day), [
      { at: day, up: 11, down: 22 },
      { at: day + 60_000, up: 100, down: 200 },
    ]);
    assertEquals(await store.usageHistory(alice.id, "minute", day + 30_000), [
      { at: day, up: 11, down: 22 },
      { at: day + 60_000, up: 100, down: 200 },
    ], "since rounds down to its bucket");
    assertEquals(await store.usageHistory(alice.id, "day", 0), [{ at: day, up: 111, down: 222 }]);
    assertEquals(await store.usageHistory(0, "day", 0), [{ at: day, up: 7, down: 8 }]);
    assertEquals(await store.usageHistory(99, "minute", 0), [], "zero samples are not stored");
    // A day and a bit later the minutes are gone; 91 days later the day is gone too.
    const later = day + 25 * 3600_000;
    await store.addUsageHistory([{ userId: alice.id, up: 1, down: 1 }], later);
    assertEquals(await store.usageHistory(alice.id, "minute", 0), [
      { at: later - later % 60_000, up: 1, down: 1 },
    ]);
    assertEquals((await store.usageHistory(alice.id, "day", 0)).length, 2);
    await store.addUsageHistory([], day + 91 * 86_400_000);
    assertEquals((await store.usageHistory(alice.id, "day", 0)).map((p) => p.at), [
      later - later % 86_400_000,
    ]);
  });

  test("markAlert is true once per alert and period; removing the user forgets", async (store) => {
    const alice = await store.add("alice", "a");
    assertEquals(await store.markAlert(alice.id, "quota-80", "p1"), true);
    assertEquals(await store.markAlert(alice.id, "quota-80", "p1"), false, "sent already");
    assertEquals(await store.markAlert(alice.id, "quota-100", "p1"), true, "another alert");
    assertEquals(await store.markAlert(alice.id, "quota-80", "p2"), true, "a new period");
    assertEquals(await store.markAlert(alice.id, "quota-80", "p2"), false);
    await store.remove("alice");
    const again = await store.add("alice", "b");
    assertEquals(await store.markAlert(again.id, "quota-80", "p2"), true, "a new user starts over");
  });

  test("removing a user removes its history", async (store) => {
    const alice = await store.add("alice", "a");
    await store.addUsageHistory([{ userId: alice.id, up: 5, down: 5 }], Date.now());
    await store.remove("alice");
    assertEquals(await store.usageHistory(alice.id, "minute", 0), []);
  });

  test("the admin password hash: none at first, then the last one set", async (store, fixture) => {
    assertEquals(await store.adminPasswordHash(), undefined);
    await store.setAdminPasswordHash("hash-1");
    await store.setAdminPasswordHash("hash-2");
    const other = await fixture.open();
    try {
      assertEquals(await other.adminPasswordHash(), "hash-2", "seen by another connection");
    } finally {
      await other.close();
    }
  });

  test("a subscription is found by its key, replaced by a new one, and revoked", async (store) => {
    await store.add("alice", "a");
    await store.add("bob", "b");
    assertEquals(await store.findBySubscriptionKey("k1"), undefined, "none at first");
    await store.setSubscription("alice", { key: "k1", sealedPassword: "s1" });
    const found = await store.findBySubscriptionKey("k1");
    assertEquals(found?.user.name, "alice");
    assertEquals(found?.sealedPassword, "s1");
    await store.setSubscription("alice", { key: "k2", sealedPassword: "s2" });
    assertEquals(await store.findBySubscriptionKey("k1"), undefined, "the old key is gone");
    assertEquals((await store.findBySubscriptionKey("k2"))?.sealedPassword, "s2");
    assertEquals(await store.findBySubscriptionKey("k3"), undefined, "bob has none");
    await store.setSubscription("alice", null);
    assertEquals(await store.findBySubscriptionKey("k2"), undefined, "revoked");
    await assertRejects(() => store.setSubscription("carol", null), UserError);
  });

  test("admins: added, changed field by field, their recovery codes used once, removed", async (store) => {
    await assertRejects(() => store.putAdmin("ann", { totpSecret: "X" }), UserError, "no admin");
    await store.putAdmin("ann", { hash: "h1" });
    await store.setAdminPasswordHash("h0");
    assertEquals((await store.admins()).map((a) => [a.name, a.hash]), [["admin", "h0"], [
      "ann",
      "h1",
    ]]);
    await store.putAdmin("ann", { totpSecret: "SECRET", recovery: ["c1", "c2"] });
    const ann = (await store.admins()).find((a) => a.name === "ann")!;
    assertEquals([ann.hash, ann.totpSecret, ann.recovery], ["h1", "SECRET", ["c1", "c2"]]);
    assertEquals(await store.useRecoveryCode("ann", "c1"), true);
    assertEquals(await store.useRecoveryCode("ann", "c1"), false, "once only");
    assertEquals(await store.useRecoveryCode("admin", "c2"), false, "another admin's code");
    assertEquals(await store.removeAdmin("ann"), true);
    assertEquals(await store.removeAdmin("ann"), false);
    assertEquals((await store.admins()).map((a) => a.name), ["admin"]);
  });

  test("tokens: found by their hash, touched, listed, revoked", async (store) => {
    const token = { name: "ci", key: "k1", readOnly: true, createdAt: 5, lastUsedAt: null };
    await store.addToken(token);
    await assertRejects(() => store.addToken({ ...token, key: "k2" }), UserError);
    assertEquals(await store.findToken("k1"), token);
    await store.touchToken("ci", 9);
    assertEquals((await store.tokens())[0]?.lastUsedAt, 9);
    assertEquals(await store.revokeToken("ci"), true);
    assertEquals(await store.findToken("k1"), undefined);
    assertEquals(await store.revokeToken("ci"), false);
  });

  test("the audit log: newest first, by actor or target, since a time, kept 180 days", async (store) => {
    const now = Date.now();
    const entry = (at: number, actor: string, target: string) => ({
      at,
      actor,
      source: "127.0.0.1",
      action: "user.set",
      target,
      before: '{"quota":0}',
      after: '{"quota":1}',
    });
    await store.addAudit(entry(now - 181 * 86_400_000, "cli", "old"));
    await store.addAudit(entry(now - 1000, "cli", "alice"));
    await store.addAudit(entry(now, "ann", "bob"));
    assertEquals((await store.auditLog()).map((e) => e.target), ["bob", "alice"]);
    assertEquals(await store.auditLog({ who: "ann" }), [entry(now, "ann", "bob")]);
    assertEquals((await store.auditLog({ who: "alice" })).map((e) => e.actor), ["cli"]);
    assertEquals((await store.auditLog({ since: now - 10 })).map((e) => e.target), ["bob"]);
  });
}
