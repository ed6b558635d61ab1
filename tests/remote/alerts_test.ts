/**
 * Alerts with a clock the test moves and a webhook receiver in the test: 80% and 100% of the
 * quota, 3 days before and at expiry, each once per period (also after a restart), a failed
 * delivery retried, and the checks never waiting on a slow webhook.
 */
import { assert, assertEquals } from "../_assert.ts";
import { delay } from "../_harness.ts";
import { InProcessRemote } from "../_inprocess.ts";
import { Alerts } from "../../lib/remote/ops/alerts.ts";
import type { AlertMessage } from "../../lib/remote/ops/alerts.ts";

const DAY = 86_400_000;

/** A webhook receiver on loopback that fails its first `failFirst` posts with 500. */
function receiver(failFirst = 0, holdMs = 0) {
  const received: AlertMessage[] = [];
  let posts = 0;
  const server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen() {} }, async (request) => {
    const body = await request.json();
    if (++posts <= failFirst) return new Response("busy", { status: 500 });
    if (holdMs) await delay(holdMs);
    received.push(body);
    return new Response("ok");
  });
  return {
    url: `http://127.0.0.1:${server.addr.port}/hook?secret=s3cr3t`,
    received,
    get posts() {
      return posts;
    },
    close: () => server.shutdown(),
  };
}

async function until(test: () => boolean, what: string, ms = 5000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!test()) {
    if (Date.now() > deadline) throw new Error(`${what}: not within ${ms} ms`);
    await delay(20);
  }
}

Deno.test("alerts: 80% and 100% of quota, 3 days before and at expiry, each once; retried; stored", async () => {
  const hook = receiver(1);
  const remote = await InProcessRemote.start({});
  let now = Date.UTC(2030, 2, 1);
  const clock = () => now;
  const start = (url = hook.url) =>
    new Alerts(remote.store, remote.server.accounts, { url, clock, intervalMs: 0, retryMs: 50 });
  let alerts = start();
  try {
    await remote.addUser("alice", "alice-secret", { quota: 10_000, expiresAt: now + 10 * DAY });
    await remote.server.accounts.reload();
    const alice = remote.server.accounts.byName("alice")!;
    const kinds = () => hook.received.map((m) => m.alert);

    alice.sentDown = 7_000;
    await alerts.check();
    alice.sentDown = 8_500;
    await alerts.check();
    await alerts.check();
    await until(() => hook.received.length === 1, "the 80% alert");
    assertEquals(hook.posts, 2, "the first post failed and was retried");
    assertEquals(
      [hook.received[0]!.alert, hook.received[0]!.user, hook.received[0]!.usedBytes],
      ["quota_80", "alice", 8_500],
    );
    assert(
      /alice has used 80% of their quota/.test(hook.received[0]!.text),
      hook.received[0]!.text,
    );
    await remote.program.waitFor(/alert quota_80: alice has used 80%/);
    await remote.program.waitFor(/the webhook failed for alert quota_80 of alice \(HTTP 500\)/);
    assert(!remote.program.output.includes("s3cr3t"), "the webhook URL is in the log");

    // A restart: the state is in the store, so nothing is sent again.
    await alerts.stop();
    alerts = start();
    await alerts.check();
    alice.sentDown = 10_000;
    await alerts.check();
    await alerts.check();
    await until(() => hook.received.length === 2, "the 100% alert");

    now += 7 * DAY + 1;
    await alerts.check();
    await until(() => hook.received.length === 3, "3 days before expiry");
    now += 3 * DAY;
    await alerts.check();
    await alerts.check();
    await until(() => hook.received.length === 4, "at expiry");
    assertEquals(kinds(), ["quota_80", "quota_100", "expires_soon", "expired"]);
    assertEquals(hook.received[3]!.expiresAt, new Date(Date.UTC(2030, 2, 11)).toISOString());

    // A new period (usage reset) arms the quota alerts again; a new expiry arms its own.
    await remote.server.accounts.flush();
    await remote.user("reset-usage", "alice");
    await remote.server.accounts.reload();
    await alerts.check();
    await delay(200);
    assertEquals(hook.received.length, 4, "after the reset alice is at 0%");
    alice.sentDown += 8_000;
    await alerts.check();
    await until(() => hook.received.length === 5, "80% of the new period");
    assertEquals(hook.received[4]!.alert, "quota_80");
  } finally {
    await alerts.stop();
    await remote.stop();
    await hook.close();
  }
});

Deno.test("alerts: a slow webhook never holds up the checks", async () => {
  const hook = receiver(0, 400);
  const remote = await InProcessRemote.start({});
  const alerts = new Alerts(remote.store, remote.server.accounts, { url: hook.url, intervalMs: 0 });
  try {
    await remote.addUser("alice", "alice-secret", { quota: 100 });
    await remote.addUser("bob", "bob-secret", { quota: 100 });
    await remote.server.accounts.reload();
    remote.server.accounts.byName("alice")!.sentDown = 100;
    remote.server.accounts.byName("bob")!.sentDown = 100;
    const started = performance.now();
    await alerts.check();
    const ms = performance.now() - started;
    assert(ms < 300, `a check with 4 alerts to send took ${ms} ms`);
    assertEquals(hook.received.length, 0, "none delivered yet: they wait in the background");
    await until(() => hook.received.length === 4, "all four delivered", 10_000);
  } finally {
    await alerts.stop();
    await remote.stop();
    await hook.close();
  }
});
