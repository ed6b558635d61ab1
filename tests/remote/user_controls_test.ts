/**
 * The operator's controls through the real `user` and `template` commands: a device limit
 * (`--max-ips`) that refuses a new address while the ones in use keep working and tells the
 * local why; expiry from the first login (`--expires-after`); reset periods firing once per
 * period across a restart; templates, groups changed at once, and many accounts in one command.
 */
import { assert, assertEquals } from "../_assert.ts";
import { curl, delay, LocalFixture } from "../_harness.ts";
import { startEcho } from "../_net.ts";
import { sample, startAdmin } from "./admin/_admin.ts";
import { InProcessRemote } from "../_inprocess.ts";
import { holdTunnel, statusFrom } from "./_places.ts";
import { MonthlyReset, nextResetOf } from "../../lib/remote/ops/monthly_reset.ts";
import { templateCommands } from "../../lib/remote/cli/user.ts";

const DAY = 86_400_000;

/** Waits until `check` holds, or throws naming `what` after 10 s. */
async function eventually(check: () => Promise<boolean>, what: string): Promise<void> {
  const deadline = Date.now() + 10_000;
  while (!await check()) {
    if (Date.now() > deadline) throw new Error(`${what}: not within 10 s`);
    await delay(100);
  }
}
const text = (bytes: Uint8Array) => new TextDecoder().decode(bytes);

Deno.test("--max-ips 2: a third address is refused and told why; the two in use keep working", async () => {
  await using cleanup = new AsyncDisposableStack();
  const echo = cleanup.adopt(startEcho(), (e) => e.close());
  const admin = cleanup.adopt(await startAdmin(), (a) => a.stop());
  const remote = admin.remote;
  await remote.user("set", "alice", "--max-ips", "2");
  // The local (from 127.0.0.1) starts first: its start-up check logs in while nobody else is.
  const local = cleanup.adopt(await LocalFixture.start(remote), async (l) => void await l.stop());
  const target = { port: remote.port, certPath: remote.certPath };
  const two = await holdTunnel(target, "alice:alice-secret", "127.0.0.2", echo.port);
  cleanup.defer(() => two.close());
  const three = await holdTunnel(target, "alice:alice-secret", "127.0.0.3", echo.port);
  cleanup.defer(() => three.close());

  // A third place: refused at login, in words, through the real local.
  const out = await curl("-x", `http://${local.address}`, `http://127.0.0.1:${echo.port}/`);
  const body = text(out.body);
  assert(body.includes("in use from 2 other places"), body);
  const status = await statusFrom(target, "alice:alice-secret", "127.0.0.4");
  assertEquals(status?.refusal, "max-ips");
  assertEquals(status?.otherPlaces, 2);
  await remote.program.waitFor(/refused alice from 127\.0\.0\.1:\d+: too many places/);

  // Not a kick: the two in use still carry bytes.
  assert(await two.echo("still here 2"), "127.0.0.2 lost its tunnel");
  assert(await three.echo("still here 3"), "127.0.0.3 lost its tunnel");
  // One of them may open more tunnels: it is not a new place.
  const twoAgain = await holdTunnel(target, "alice:alice-secret", "127.0.0.2", echo.port);
  twoAgain.close();

  // The admin's view: the count in the metrics (no address), each address with last-seen.
  const metrics = await (await fetch(`${admin.origin}/metrics`)).text();
  assertEquals(sample(metrics, 'swiftproxy_user_addresses{user="alice"}'), 2);
  assert(!/127\.0\.0\.[234]/.test(metrics), "no address in the metrics");
  await remote.server.accounts.flush();
  const [row] = JSON.parse(await remote.user("list", "--json"));
  assertEquals(row.maxIps, 2);
  const addresses = row.addresses.map((a: { address: string }) => a.address).sort();
  assertEquals(addresses, ["127.0.0.2", "127.0.0.3"]);
  for (const a of row.addresses) assert(Date.now() - Date.parse(a.lastSeen) < 60_000, a.lastSeen);

  // One place leaves: the third gets in.
  two.close();
  await eventually(
    async () => (await statusFrom(target, "alice:alice-secret", "127.0.0.4"))?.refusal === null,
    "127.0.0.4 let in once 127.0.0.2 left",
  );
  // 0 lifts the limit.
  await remote.user("set", "alice", "--max-ips", "0");
  await remote.server.accounts.reload();
  const four = await holdTunnel(target, "alice:alice-secret", "127.0.0.4", echo.port);
  four.close();
});

Deno.test("--expires-after 30d: on hold until the first login, then expires 30 days after it", async () => {
  const remote = await InProcessRemote.start({});
  try {
    await remote.user("add", "bob", "--password", "bob-secret", "--expires-after", "30d");
    const [held] = JSON.parse(await remote.user("list", "--json"));
    assertEquals([held.status, held.expiresAt, held.expiresAfter], ["on hold", null, "30d"]);
    assert(/on hold \(30d\)/.test(await remote.user("list")), "the table says on hold");
    await remote.server.accounts.reload();
    // Long after the account was made, the first login starts the 30 days.
    const target = { port: remote.port, certPath: remote.certPath };
    const before = Date.now();
    const status = await statusFrom(target, "bob:bob-secret", "127.0.0.2");
    assertEquals(status?.refusal, null);
    await remote.program.waitFor(/bob logged in for the first time/);
    await eventually(
      async () => (await remote.store.get("bob"))!.expiresAfter === undefined,
      "stored",
    );
    const [started] = JSON.parse(await remote.user("list", "--json"));
    assertEquals(started.status, "active");
    const expires = Date.parse(started.expiresAt);
    assert(expires >= before + 30 * DAY && expires <= Date.now() + 30 * DAY, started.expiresAt);
    assert((await remote.user("list")).includes(started.expiresAt.slice(0, 10)), "the date shows");
    // A second login does not move it.
    await statusFrom(target, "bob:bob-secret", "127.0.0.2");
    await remote.server.accounts.reload();
    assertEquals((await remote.store.get("bob"))!.expiresAt, expires);
    for (const bad of ["30", "1y", "-1d", "0.5d"]) {
      let refused = false;
      await remote.user("set", "bob", "--expires-after", bad).catch(() => refused = true);
      assert(refused, `--expires-after ${bad} was taken`);
    }
  } finally {
    await remote.stop();
  }
});

Deno.test("--reset daily|weekly|monthly|yearly: each fires once per period, across a restart", async () => {
  const remote = await InProcessRemote.start({});
  let now = 0;
  const resets = () =>
    new MonthlyReset(remote.store, remote.server.accounts, { clock: () => now, intervalMs: 0 });
  try {
    for (const period of ["daily", "weekly", "monthly", "yearly"]) {
      await remote.user("add", period, "--password", "secret-pass", "--reset", period);
      const user = (await remote.store.get(period))!;
      const next = nextResetOf(user.lastResetAt!, user)!;
      const use = () => remote.store.addUsage([{ id: user.id, up: 0, down: 5000, openConns: 0 }]);
      await use();
      now = next - 60_000;
      await resets().check();
      assertEquals((await remote.store.get(period))!.bytesDown, 5000, `${period}: not before`);
      now = next + 60_000;
      const first = resets();
      await first.check();
      assertEquals((await remote.store.get(period))!.bytesDown, 0, `${period}: at its time`);
      await use();
      await first.check();
      await resets().check(); // a restart within the same period
      assertEquals((await remote.store.get(period))!.bytesDown, 5000, `${period}: only once`);
      const after = nextResetOf(now, user)!;
      assert(after > now && after - next >= DAY, `${period}: the next one is a period later`);
      await remote.user("remove", period);
    }
    await remote.program.waitFor(/weekly reset of weekly's usage \(was 5000 bytes\)/);
    await remote.user("add", "carol", "--password", "secret-pass", "--reset", "weekly");
    const [row] = JSON.parse(await remote.user("list", "--json"));
    assertEquals(row.reset, "weekly");
    await remote.user("set", "carol", "--reset", "none");
    assertEquals((await remote.store.get("carol"))!.resetPeriod, undefined);
  } finally {
    await remote.stop();
  }
});

Deno.test("templates, groups and ten accounts in one command", async () => {
  const remote = await InProcessRemote.start({});
  const dir = await Deno.makeTempDir();
  try {
    const block = `${dir}/block.txt`;
    await Deno.writeTextFile(block, "+.blocked.example\n");
    const template = (...args: string[]) => runTemplate(remote, ...args);
    await template(
      "add",
      "family",
      "--down",
      "2MiB",
      "--quota",
      "50GiB",
      "--max-ips",
      "2",
      "--expires-after",
      "30d",
      "--reset",
      "monthly",
      "--block",
      block,
    );
    await template("set", "family", "--quota", "10GiB");
    assert((await template("list")).includes("family: "), "listed");
    await remote.user(
      "add",
      "dan",
      "--password",
      "dan-password",
      "--template",
      "family",
      "--up",
      "1MiB",
    );
    const dan = (await remote.store.get("dan"))!;
    assertEquals(
      [dan.downLimit, dan.upLimit, dan.quota, dan.maxIps, dan.expiresAfter, dan.resetPeriod],
      [2 * 1024 * 1024, 1024 * 1024, 10 * 1024 ** 3, 2, 30 * DAY, "monthly"],
    );
    assertEquals(dan.blockList, "+.blocked.example\n");

    // Ten accounts at once, in a group, their links as CSV.
    const csv = await remote.user(
      "add",
      "--count",
      "10",
      "--prefix",
      "guest-",
      "--group",
      "guests",
      "--data",
      remote.dir,
      "--host",
      "127.0.0.1",
      "--port",
      String(remote.port),
      "--csv",
    );
    const lines = csv.trim().split("\n");
    assertEquals(lines[0], "name,password,link,subscription");
    assertEquals(lines.length, 11);
    for (const [i, line] of lines.slice(1).entries()) {
      const [name, password = "", link = "", sub = ""] = line.split(",");
      assertEquals(name, `guest-${i + 1}`);
      assert(link.startsWith("trojan://") && link.includes(encodeURIComponent(password)), link);
      assert(sub.includes("/sub/"), sub);
    }
    const table = await remote.user(
      "add",
      "--count",
      "2",
      "--prefix",
      "guest-",
      "--data",
      remote.dir,
      "--host",
      "127.0.0.1",
    );
    assert(/guest-11 .*trojan:\/\//.test(table) && /guest-12 /.test(table), table);

    // One command changes every member of the group.
    await remote.user("set", "--group", "guests", "--down", "1MiB", "--max-ips", "1");
    const guests = JSON.parse(await remote.user("list", "--json", "--group", "guests"));
    assertEquals(guests.length, 10);
    for (const g of guests) {
      assertEquals([g.downLimit, g.maxIps, g.group], [1024 * 1024, 1, "guests"]);
    }
    assertEquals((await remote.store.get("guest-11"))!.downLimit, 0, "not in the group");
    await template("remove", "family");
    assertEquals(await remote.store.templates(), []);
  } finally {
    await remote.stop();
    await Deno.remove(dir, { recursive: true });
  }
});

/** Runs a `template …` subcommand in-process on `remote`'s store, as `remote.user` does. */
async function runTemplate(remote: InProcessRemote, ...args: string[]): Promise<string> {
  const out: string[] = [];
  const { log } = console;
  console.log = (...parts: unknown[]) => out.push(`${parts.join(" ")}\n`);
  const store = new Proxy(remote.store, {
    get(target, property) {
      if (property === "close") return () => Promise.resolve();
      const value = Reflect.get(target, property, target);
      return typeof value === "function" ? value.bind(target) : value;
    },
  });
  try {
    const command = templateCommands(() => Promise.resolve(store));
    for (const c of [command, ...command.commands]) c.exitOverride();
    await command.parseAsync(args, { from: "user" });
  } finally {
    console.log = log;
  }
  if (Deno.exitCode) throw new Error(`template ${args.join(" ")} failed`);
  return out.join("");
}
