/**
 * The admin panel's sessions and login throttle against a real `serve --admin` and the real
 * `admin` commands: a new password ends every session and its live view, a logout closes the
 * WebSocket, simultaneous guesses are refused as sequential ones are (and cost little memory),
 * all of loopback is one source, and `admin unlock` lets the admin back in.
 */
import { assert, assertEquals } from "../../_assert.ts";
import { delay, freePort, remoteArgs, RemoteFixture, runProgram } from "../../_harness.ts";
import { ADMIN_PASSWORD, AdminClient } from "./_admin.ts";

const adminPort = freePort();
const origin = `http://127.0.0.1:${adminPort}`;
let fixture: Promise<RemoteFixture> | undefined;
/** One remote with its panel for the whole file, its admin password set. */
const remote = () =>
  fixture ??= (async () => {
    const r = await RemoteFixture.start({ alice: "alice-secret" }, [
      "--admin",
      `127.0.0.1:${adminPort}`,
    ]);
    await r.program.waitFor(/admin panel on/);
    await admin(r, "passwd", "--password", ADMIN_PASSWORD);
    return r;
  })();

/** Runs `swiftproxy-remote admin …` on the remote's data directory; throws on failure. */
async function admin(r: RemoteFixture, ...args: string[]): Promise<string> {
  const result = await runProgram(remoteArgs("admin", ...args, "--data", r.dir));
  if (result.code !== 0) throw new Error(`admin ${args.join(" ")}: ${result.stderr}`);
  return result.stdout;
}

/** A login from the loopback address `from` (curl binds it), as the panel's page sends one. */
async function loginFrom(
  from: string,
  password: string,
): Promise<{ status: number; body: string }> {
  const out = await new Deno.Command("curl", {
    args: [
      "-s",
      "--interface",
      from,
      "-o",
      "-",
      "-w",
      "\n%{http_code}",
      "-H",
      `origin: ${origin}`,
      "-H",
      "content-type: application/json",
      "--data",
      JSON.stringify({ password }),
      `${origin}/api/login`,
    ],
  }).output();
  const text = new TextDecoder().decode(out.stdout);
  const cut = text.lastIndexOf("\n");
  return { status: Number(text.slice(cut + 1)), body: text.slice(0, cut) };
}

/** Resolves when the WebSocket closes, with its code; or "open" after `ms`. */
function closed(socket: WebSocket, ms: number): Promise<number | "open"> {
  return new Promise((resolve) => {
    const timer = setTimeout(() => resolve("open"), ms);
    socket.addEventListener("close", (event) => {
      clearTimeout(timer);
      resolve(event.code);
    });
  });
}

/** A live-view WebSocket with `client`'s session, once its first message came. */
async function liveView(client: AdminClient): Promise<WebSocket> {
  // Deno's WebSocket takes headers (a cookie, as the browser sends), which its types omit.
  const options = { headers: { cookie: client.cookie, origin } } as unknown as string[];
  const socket = new WebSocket(`ws://127.0.0.1:${adminPort}/api/ws`, options);
  await new Promise((resolve, reject) => {
    socket.onmessage = resolve;
    socket.onerror = reject;
  });
  return socket;
}

/** The remote's peak resident memory so far (VmHWM), in MiB. */
function peakMiB(r: RemoteFixture): number {
  const status = Deno.readTextFileSync(`/proc/${r.program.child.pid}/status`);
  return Number(/VmHWM:\s+(\d+) kB/.exec(status)![1]) / 1024;
}

Deno.test("admin passwd ends every session at once, and its live view", async () => {
  const r = await remote();
  const before = new AdminClient(origin);
  assertEquals((await before.login()).status, 200);
  const watching = await liveView(before);
  const watchingClosed = closed(watching, 5000);
  await admin(r, "passwd", "--password", "a new admin password");
  const started = Date.now();
  let status = 200;
  while (status !== 401 && Date.now() - started < 4000) {
    await delay(100);
    status = (await before.call("GET", "/api/users")).status;
  }
  assertEquals(status, 401, "a session from before admin passwd");
  assert(Date.now() - started < 2500, `ended after ${Date.now() - started} ms`);
  assertEquals(await watchingClosed, 1008, "its WebSocket closes too");
  const after = new AdminClient(origin);
  assertEquals((await after.login("a new admin password")).status, 200, "the new password");
  assertEquals((await after.call("GET", "/api/users")).status, 200, "a new session lives");
  await delay(1500);
  assertEquals((await after.call("GET", "/api/users")).status, 200, "and goes on living");
  await admin(r, "passwd", "--password", ADMIN_PASSWORD);
});

Deno.test("a logout closes the session's live view", async () => {
  await remote();
  const client = new AdminClient(origin);
  assertEquals((await client.login()).status, 200);
  const leaving = await liveView(client);
  const leavingClosed = closed(leaving, 3000);
  assertEquals((await client.call("POST", "/api/logout")).status, 200);
  assertEquals(await leavingClosed, 1008, "the WebSocket of a logged-out session closes");
});

Deno.test("all of loopback is one source, and admin unlock lets the right password in", async () => {
  const r = await remote();
  // The test before changed the password: once the panel has seen that (within a second), it
  // clears the cool-offs, which must not happen between the guesses below.
  await delay(1500);
  for (let i = 0; i < 6; i++) {
    assertEquals((await loginFrom("127.0.0.3", `guess-${i}`)).status, 401, `guess ${i}`);
  }
  const fresh = await loginFrom("127.0.0.4", "guess-from-another-127");
  assertEquals(fresh.status, 429, "127.0.0.4 cools off with 127.0.0.3");
  const admin429 = await loginFrom("127.0.0.1", ADMIN_PASSWORD);
  assertEquals(admin429.status, 429, "the right password too, while cooling off");
  assert(/admin unlock/.test(admin429.body), `the refusal names the way out: ${admin429.body}`);

  await admin(r, "unlock");
  const started = Date.now();
  let status = 429;
  while (status === 429 && Date.now() - started < 4000) {
    await delay(200);
    status = (await loginFrom("127.0.0.1", ADMIN_PASSWORD)).status;
  }
  assertEquals(status, 200, `admin unlock lets the admin in:\n${r.program.output}`);
});

Deno.test("100 simultaneous wrong logins: a few are checked, the rest refused, memory stays low", async () => {
  const r = await remote();
  // What the test before left (on a build without `admin unlock`: only 127.0.0.3 cools off).
  await admin(r, "unlock").catch(() => {});
  await delay(1500);
  const peakBefore = peakMiB(r);
  const client = new AdminClient(origin);
  // Past the panel's 64 connections a new one is closed unanswered (status 0 here): refused too.
  const replies = await Promise.all(
    Array.from(
      { length: 100 },
      (_, i) =>
        client.call("POST", "/api/login", { password: `w${i}` }).catch(() => ({ status: 0 })),
    ),
  );
  const statuses = replies.map((x) => x.status);
  const checked = statuses.filter((s) => s === 401).length;
  const peakAfter = peakMiB(r);
  console.log(`checked ${checked} of 100; peak RSS ${peakBefore} → ${peakAfter} MiB`);
  assert(checked <= 6, `${checked} wrong passwords were checked (limit 5 a minute: 6 at most)`);
  assertEquals(
    checked + statuses.filter((s) => s === 429 || s === 0).length,
    100,
    String(statuses),
  );
  assert(statuses.filter((s) => s === 429).length > 0, `none answered 429: ${statuses}`);
  assert(peakAfter - peakBefore < 150, `peak RSS grew from ${peakBefore} to ${peakAfter} MiB`);
});

Deno.test("this file's remote stops", async () => (await remote()).stop());
