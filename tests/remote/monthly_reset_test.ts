/**
 * Monthly resets with a clock the test moves: once on the reset day, not again after a
 * restart that same month, once after missed days, and shown by `user list`.
 */
import { assert, assertEquals } from "../_assert.ts";
import { InProcessRemote } from "../_inprocess.ts";
import { MonthlyReset, nextReset, periodStart } from "../../lib/remote/ops/monthly_reset.ts";

const DAY = 86_400_000;

Deno.test("periodStart and nextReset: this month's reset day once it has come, else last month's", () => {
  assertEquals(periodStart(Date.UTC(2030, 4, 3, 12), 5), Date.UTC(2030, 3, 5));
  assertEquals(periodStart(Date.UTC(2030, 4, 5), 5), Date.UTC(2030, 4, 5), "at midnight: today");
  assertEquals(periodStart(Date.UTC(2030, 0, 2), 28), Date.UTC(2029, 11, 28), "across a year");
  assertEquals(nextReset(Date.UTC(2030, 4, 3), 5), Date.UTC(2030, 4, 5));
  assertEquals(nextReset(Date.UTC(2030, 11, 20), 5), Date.UTC(2031, 0, 5));
});

Deno.test("monthly reset: once on the day, not again after a restart, once after missed days", async () => {
  const remote = await InProcessRemote.start({});
  let now = 0;
  const clock = () => now;
  try {
    await remote.user("add", "alice", "--password", "alice-secret", "--reset-day", "1");
    const alice = (await remote.store.get("alice"))!;
    const setAt = alice.lastResetAt!;
    const use = (bytes: number) =>
      remote.store.addUsage([{ id: alice.id, up: 0, down: bytes, openConns: 0 }]);
    await use(5000);
    // The next 1st after the reset day was set, and the day before it.
    const first = nextReset(setAt, 1);
    const resets = () =>
      new MonthlyReset(remote.store, remote.server.accounts, { clock, intervalMs: 0 });

    now = first - 60_000;
    assertEquals(await resets().check(), 0, "the day before: nothing");
    assertEquals((await remote.store.get("alice"))!.bytesDown, 5000);

    now = first + 3600_000;
    assertEquals(await resets().check(), 1, "on the day: reset");
    assertEquals((await remote.store.get("alice"))!.bytesDown, 0);
    await remote.program.waitFor(/monthly reset of alice's usage \(reset day 1; was 5000 bytes\)/);
    await remote.server.accounts.reload();
    assertEquals(remote.server.accounts.byName("alice")!.used, 0, "the server sees it at once");

    await use(7000);
    now = first + 2 * DAY;
    assertEquals(await resets().check(), 0, "a restart later that month: nothing");
    assertEquals((await remote.store.get("alice"))!.bytesDown, 7000);

    // The server was down over the next reset day and comes back two weeks late.
    now = nextReset(first + DAY, 1) + 14 * DAY;
    const late = resets();
    assertEquals(await late.check(), 1, "missed days: reset once");
    assertEquals(await late.check(), 0, "and only once");
    assertEquals(await resets().check(), 0, "nor after another restart");
    const table = await remote.user("list");
    assert(/day 1 \(last \d{4}-\d{2}-\d{2}\)/.test(table), table);
    const json = JSON.parse(await remote.user("list", "--json"));
    assertEquals(json[0].resetDay, 1);
    assertEquals(json[0].lastResetAt, new Date(now).toISOString());
  } finally {
    await remote.stop();
  }
});

Deno.test("--reset-day: 1 to 28 or 0; anything else is refused and nothing is written", async () => {
  const remote = await InProcessRemote.start({});
  try {
    for (const bad of ["29", "-1", "x", "1.5"]) {
      let failed = false;
      try {
        await remote.user("add", "bob", "--password", "bob-secret", "--reset-day", bad);
      } catch (error) {
        failed = /--reset-day|1 to 28/.test(String(error));
      }
      assert(failed, `--reset-day ${bad} was accepted`);
    }
    assertEquals(await remote.store.list(), []);
    await remote.user("add", "bob", "--password", "bob-secret", "--reset-day", "28");
    await remote.user("set", "bob", "--reset-day", "0");
    assertEquals((await remote.store.get("bob"))!.resetDay, undefined);
  } finally {
    await remote.stop();
  }
});
