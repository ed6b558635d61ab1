/**
 * Admin accounts, API tokens, two-factor sign-in and the audit log, through the real
 * `swiftproxy-remote` (serve --admin, and the admin commands run beside it) and the panel's
 * HTTP API as its page or a script calls it.
 */
import * as OTPAuth from "otpauth";
import { DatabaseSync } from "node:sqlite";
import { assert, assertEquals } from "../../_assert.ts";
import { freePort, remoteArgs, RemoteFixture, runProgram } from "../../_harness.ts";
import { AdminClient } from "./_admin.ts";

const port = freePort();
let started: Promise<RemoteFixture> | undefined;
/** One `serve --admin` for the file, with its secrets as they were handed out. */
const secrets: string[] = [];
function remote(): Promise<RemoteFixture> {
  return started ??= RemoteFixture.start({ alice: "alice-secret-1" }, [
    "--admin",
    `127.0.0.1:${port}`,
  ]).then(async (r) => {
    await r.program.waitFor(/admin panel on/);
    return r;
  });
}
const origin = `http://127.0.0.1:${port}`;

/** Runs `swiftproxy-remote admin ARGS --data DIR`; its stdout, or throws with its stderr. */
async function admin(r: RemoteFixture, ...args: string[]): Promise<string> {
  const result = await runProgram(remoteArgs("admin", ...args, "--data", r.dir));
  if (result.code !== 0) throw new Error(`admin ${args.join(" ")}: ${result.stderr}`);
  return result.stdout;
}

/** A call with `Authorization: Bearer TOKEN` and nothing of a page (no cookie, no CSRF). */
async function withToken(token: string, method: string, path: string, body?: unknown) {
  const response = await fetch(origin + path, {
    method,
    headers: {
      authorization: `Bearer ${token}`,
      ...(body === undefined ? {} : { "content-type": "application/json" }),
    },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  return { status: response.status, body: await response.json().catch(() => null) };
}

function shown(output: string, label: RegExp): string {
  const found = label.exec(output)?.[1];
  assert(found, `no ${label} in ${output}`);
  secrets.push(found);
  return found;
}

Deno.test("a read-only token reads and is refused every change (403); a revoked token is refused (401)", async () => {
  const r = await remote();
  const reader = shown(
    await admin(r, "token", "add", "grafana", "--read-only"),
    /\(shown once\): (\S+)/,
  );
  const writer = shown(await admin(r, "token", "add", "ci"), /\(shown once\): (\S+)/);

  const read = await withToken(reader, "GET", "/api/users");
  assertEquals(read.status, 200);
  assertEquals(read.body.users.map((u: { name: string }) => u.name), ["alice"]);
  assertEquals(
    (await withToken(reader, "PATCH", "/api/users/alice", { quota: "1GiB" })).status,
    403,
  );
  assertEquals((await withToken(reader, "POST", "/api/users", { name: "eve" })).status, 403);
  assertEquals((await withToken(reader, "POST", "/api/users/alice/disable")).status, 403);
  assertEquals((await withToken(reader, "POST", "/api/2fa")).status, 403, "no enrolment by token");

  // A read-write token changes without a CSRF token: it is no cookie a page could ride on.
  const set = await withToken(writer, "PATCH", "/api/users/alice", { quota: "5GiB" });
  assertEquals(set.status, 200, JSON.stringify(set.body));
  assertEquals(set.body.quota, 5 * 1024 ** 3);
  const foreign = await fetch(`${origin}/api/users`, {
    headers: { authorization: `Bearer ${writer}`, origin: "https://evil.example" },
  });
  await foreign.body?.cancel();
  assertEquals(foreign.status, 403, "a foreign Origin is refused even with a token");

  const list = JSON.parse(await admin(r, "token", "list", "--json"));
  assertEquals(list.map((t: { name: string; scope: string }) => [t.name, t.scope]), [
    ["ci", "read-write"],
    ["grafana", "read-only"],
  ]);
  assert(list.every((t: { lastUsed: string | null }) => t.lastUsed !== null), "last used shown");

  await admin(r, "token", "revoke", "ci");
  assertEquals((await withToken(writer, "GET", "/api/users")).status, 401, "revoked");
  assertEquals((await withToken("spt_made-up", "GET", "/api/users")).status, 401, "unknown");
  assertEquals((await withToken(reader, "GET", "/api/users")).status, 200, "the other still works");
});

Deno.test("several admins; TOTP sign-in with a computed code, a recovery code once only", async () => {
  const r = await remote();
  const first = shown(await admin(r, "passwd"), /\(shown once\): (\S+)/);
  assertEquals((await fetch(`${origin}/api/login`).then((x) => x.json())).askName, false);
  const ann = shown(await admin(r, "add", "ann"), /\(shown once\): (\S+)/);
  assertEquals((await fetch(`${origin}/api/login`).then((x) => x.json())).askName, true);
  assert((await admin(r, "list")).includes("ann  password"));

  // No name: the first admin, as before there were several.
  assertEquals((await new AdminClient(origin).login(first)).status, 200);
  assertEquals((await new AdminClient(origin).login(ann)).status, 401, "ann's is not admin's");

  const page = new AdminClient(origin);
  assertEquals((await page.login(ann, { name: "ann" })).status, 200);
  const started = await page.call("POST", "/api/2fa");
  assertEquals(started.status, 200);
  assert(started.body.qr.startsWith("<svg"), "a QR code");
  assert(started.body.uri.startsWith("otpauth://totp/SwiftProxy:ann?"), started.body.uri);
  const totp = new OTPAuth.TOTP({ secret: OTPAuth.Secret.fromBase32(started.body.secret) });
  secrets.push(started.body.secret);
  assertEquals((await page.call("POST", "/api/2fa/confirm", { code: "000000" })).status, 400);
  const now = Date.now();
  const confirmed = await page.call("POST", "/api/2fa/confirm", {
    code: totp.generate({ timestamp: now }),
  });
  assertEquals(confirmed.status, 200);
  const recovery: string[] = confirmed.body.recoveryCodes;
  assertEquals(recovery.length, 10);
  assertEquals(new Set(recovery).size, 10);
  secrets.push(...recovery);
  assert((await admin(r, "list")).includes("ann  two-factor on, 10 recovery codes left"));

  const next = new AdminClient(origin);
  const asked = await next.login(ann, { name: "ann" });
  assertEquals(
    [asked.status, asked.body.needCode],
    [401, true],
    "the password alone is not enough",
  );
  assertEquals((await next.login(ann, { name: "ann", code: "123456" })).status, 401);
  // The code of the next step (the last one was used to confirm, and is never taken twice).
  const code = totp.generate({ timestamp: now + 30_000 });
  assertEquals((await next.login(ann, { name: "ann", code })).status, 200, "with the code");
  assertEquals(
    (await new AdminClient(origin).login(ann, { name: "ann", code })).status,
    401,
    "replayed",
  );
  assertEquals((await next.call("GET", "/api/session")).body.twoFactor, true);

  const byRecovery = new AdminClient(origin);
  assertEquals((await byRecovery.login(ann, { name: "ann", code: recovery[3]! })).status, 200);
  assertEquals(
    (await new AdminClient(origin).login(ann, { name: "ann", code: recovery[3]! })).status,
    401,
    "once only",
  );
  assertEquals((await byRecovery.call("GET", "/api/session")).body.recoveryCodesLeft, 9);
  await admin(r, "unlock");
});

Deno.test("a removed admin's session and a changed password's are refused at their next request", async () => {
  const r = await remote();
  const bob = shown(await admin(r, "add", "bob"), /\(shown once\): (\S+)/);
  const carol = shown(await admin(r, "add", "carol"), /\(shown once\): (\S+)/);
  const bobPage = new AdminClient(origin);
  const carolPage = new AdminClient(origin);
  assertEquals((await bobPage.login(bob, { name: "bob" })).status, 200);
  assertEquals((await carolPage.login(carol, { name: "carol" })).status, 200);
  // Bob adds a user from the panel: recorded as his, with his address.
  const added = await bobPage.call("POST", "/api/users", { name: "dave", quota: "1GiB" });
  assertEquals(added.status, 201);
  secrets.push(added.body.password);

  await admin(r, "remove", "bob");
  assertEquals((await bobPage.call("GET", "/api/users")).status, 401, "removed: refused at once");
  assertEquals((await bobPage.login(bob, { name: "bob" })).status, 401);
  assertEquals((await carolPage.call("GET", "/api/users")).status, 200, "carol is still in");
  shown(await admin(r, "passwd", "carol"), /\(shown once\): (\S+)/);
  assertEquals((await carolPage.call("GET", "/api/users")).status, 401, "new password: refused");
  const unknown = await runProgram(remoteArgs("admin", "passwd", "zed", "--data", r.dir));
  assertEquals(unknown.code, 2, "admin passwd NAME for no such admin");
  await admin(r, "unlock");
});

Deno.test("the audit log holds each change with its actor, before → after, and no secret anywhere", async () => {
  const r = await remote();
  await r.user("set", "alice", "--down", "2MiB");
  const log = JSON.parse(await admin(r, "log", "--json"));
  const find = (action: string, target: string) =>
    log.find((e: { action: string; target: string }) => e.action === action && e.target === target);
  assertEquals(find("user.set", "alice")?.actor, "cli");
  assertEquals(find("user.set", "alice")?.source, "local");
  assertEquals(JSON.parse(find("user.set", "alice").after), { downLimit: 2 * 1024 ** 2 });
  const byToken = log.find((e: { actor: string }) => e.actor === "token:ci");
  assertEquals([byToken?.action, byToken?.target, byToken?.source], [
    "user.set",
    "alice",
    "127.0.0.1",
  ]);
  assertEquals([JSON.parse(byToken.before).quota, JSON.parse(byToken.after).quota], [
    0,
    5 * 1024 ** 3,
  ]);
  assertEquals(find("token.add", "grafana")?.after, '{"readOnly":true}');
  assertEquals(find("token.revoke", "ci")?.actor, "cli");
  assertEquals(find("admin.add", "ann")?.actor, "cli");
  assertEquals(find("admin.2fa-on", "ann")?.actor, "ann");
  assertEquals(find("admin.recovery-code-used", "ann")?.actor, "ann");
  assertEquals(find("user.add", "dave")?.actor, "bob");
  assertEquals(find("user.add", "dave")?.source, "127.0.0.1");
  assertEquals(find("admin.remove", "bob")?.actor, "cli");
  assertEquals(find("admin.passwd", "carol")?.actor, "cli");

  const bobs = JSON.parse(await admin(r, "log", "--user", "bob", "--json"));
  assert(
    bobs.length >= 2 &&
      bobs.every((e: { actor: string; target: string }) => e.actor === "bob" || e.target === "bob"),
  );
  assertEquals(JSON.parse(await admin(r, "log", "--since", "2030-01-01", "--json")), []);
  assert((await admin(r, "log", "--since", "1h")).includes("token:ci"));

  // The panel shows it to a signed-in admin, and a read-only token reads it.
  const grafana = secrets[0]!;
  const entries = await withToken(grafana, "GET", "/api/audit?user=alice");
  assertEquals(entries.status, 200);
  assert(entries.body.some((e: { action: string }) => e.action === "user.set"));

  // No secret in the audit log, the whole database or the server's output. (The TOTP secret has
  // to be in the admins table to check codes; nowhere else.)
  const db = new DatabaseSync(`${r.dir}/users.db`, { readOnly: true });
  const tables = db.prepare("SELECT name FROM sqlite_master WHERE type = 'table'").all()
    .map((t) => String(t.name));
  const dump = (names: string[]) =>
    names.map((t) => JSON.stringify(db.prepare(`SELECT * FROM "${t}"`).all())).join("\n");
  const audit = dump(["audit_log"]);
  const all = dump(tables.filter((t) => t !== "admins")) + dump(["admins"]).replaceAll(
    /"totp_secret":"[A-Z2-7]+"/g,
    "",
  );
  db.close();
  const output = r.program.output;
  assert(secrets.length >= 16, `${secrets.length} secrets collected`);
  for (const secret of [...secrets, "alice-secret-1"]) {
    const plain = secret.replaceAll("-", "");
    for (
      const [where, text] of [["the audit log", audit], ["the database", all], [
        "the output",
        output,
      ]]
    ) {
      assert(!text!.includes(secret) && !text!.includes(plain), `a secret in ${where}`);
    }
  }
});

Deno.test("this file's remote stops", async () => (await remote()).stop());
