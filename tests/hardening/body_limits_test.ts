/**
 * Request bodies of the admin panel and the dashboard are read only up to a limit (4 KiB for
 * the admin login, 64 KiB elsewhere): 256 MiB sent with a `Content-Length` or chunked gets 413
 * and the connection closes, and the program's memory does not grow with it.
 */
import { assert, assertEquals } from "../_assert.ts";
import { freePort, remoteArgs, RemoteFixture, runProgram } from "../_harness.ts";
import { DashboardFixture } from "../dashboard/_dashboard.ts";
import { rssMiB } from "./_helpers.ts";

const HUGE = 256 * 1024 * 1024;
/** MiB the program may grow by while refusing a huge body. */
const GROWTH_MIB = 40;
const encoder = new TextEncoder();

/**
 * Sends `POST path` with a body of `HUGE` zero bytes (declared by `Content-Length`, or
 * chunked), writing until the server answers or closes; returns the status line and how many
 * body bytes went out.
 */
async function hugePost(
  port: number,
  path: string,
  chunked: boolean,
  headers: Record<string, string> = {},
): Promise<{ status: string; sent: number }> {
  const conn = await Deno.connect({ hostname: "127.0.0.1", port });
  const origin = `http://127.0.0.1:${port}`;
  const head = [
    `POST ${path} HTTP/1.1`,
    `Host: 127.0.0.1:${port}`,
    `Origin: ${origin}`,
    "Content-Type: application/json",
    chunked ? "Transfer-Encoding: chunked" : `Content-Length: ${HUGE}`,
    ...Object.entries(headers).map(([name, value]) => `${name}: ${value}`),
  ].join("\r\n") + "\r\n\r\n";
  let answer = "";
  let answered = false;
  const reading = (async () => {
    const buffer = new Uint8Array(4096);
    try {
      for (;;) {
        const n = await conn.read(buffer);
        if (n === null) break;
        answer += new TextDecoder().decode(buffer.subarray(0, n));
        if (answer.includes("\r\n")) answered = true;
      }
    } catch {
      // reset after the answer
    }
    answered = true;
  })();
  let sent = 0;
  try {
    await conn.write(encoder.encode(head));
    const piece = new Uint8Array(64 * 1024).fill(0x20);
    const frame = chunked
      ? new Uint8Array([...encoder.encode("10000\r\n"), ...piece, ...encoder.encode("\r\n")])
      : piece;
    while (!answered && sent < HUGE) {
      await conn.write(frame);
      sent += piece.length;
    }
  } catch {
    // the server closed while we were sending: expected once it refused
  }
  const timer = setTimeout(() => conn.close(), 5_000);
  await reading;
  clearTimeout(timer);
  try {
    conn.close();
  } catch {
    // closed already
  }
  return { status: answer.slice(0, answer.indexOf("\r\n")), sent };
}

/** Runs `send` and checks the answer is 413 and `pid` grew by less than `GROWTH_MIB`. */
async function refusedWithoutGrowth(
  pid: number,
  what: string,
  send: () => Promise<{ status: string; sent: number }>,
): Promise<void> {
  const before = rssMiB(pid);
  const { status, sent } = await send();
  const growth = rssMiB(pid) - before;
  console.log(`${what}: ${status}, ${Math.round(sent / 1024)} KiB sent, +${growth.toFixed(1)} MiB`);
  assertEquals(status, "HTTP/1.1 413 Payload Too Large", what);
  assert(growth < GROWTH_MIB, `${what}: the program grew by ${growth.toFixed(1)} MiB`);
}

Deno.test("body limits: the admin login and API refuse a 256 MiB body with 413, memory flat", async () => {
  const adminPort = freePort();
  const remote = await RemoteFixture.start(undefined, ["--admin", `127.0.0.1:${adminPort}`]);
  try {
    await remote.program.waitFor(/admin panel on/);
    const passwd = await runProgram(remoteArgs("admin", "passwd", "--data", remote.dir));
    const password = /admin password \(shown once\): (\S+)/.exec(passwd.stdout)![1]!;
    const pid = remote.program.child.pid;
    for (const chunked of [false, true]) {
      await refusedWithoutGrowth(
        pid,
        `POST /api/login, ${chunked ? "chunked" : "Content-Length"}`,
        () => hugePost(adminPort, "/api/login", chunked),
      );
    }
    // Logged in, the API's bodies are bounded too.
    const origin = `http://127.0.0.1:${adminPort}`;
    const login = await fetch(`${origin}/api/login`, {
      method: "POST",
      headers: { origin, "content-type": "application/json" },
      body: JSON.stringify({ password }),
    });
    assertEquals(login.status, 200, "login");
    const cookie = login.headers.get("set-cookie")!.split(";")[0]!;
    const { csrf } = await login.json();
    for (const chunked of [false, true]) {
      await refusedWithoutGrowth(
        pid,
        `POST /api/users, ${chunked ? "chunked" : "Content-Length"}`,
        () => hugePost(adminPort, "/api/users", chunked, { cookie, "x-csrf-token": csrf }),
      );
    }
    // A login of ordinary size still works.
    const again = await fetch(`${origin}/api/login`, {
      method: "POST",
      headers: { origin, "content-type": "application/json" },
      body: JSON.stringify({ password }),
    });
    assertEquals(again.status, 200, `a second login:\n${remote.program.output}`);
    await again.body?.cancel();
  } finally {
    await remote.stop();
  }
});

Deno.test("body limits: the dashboard refuses a 256 MiB body with 413, memory flat", async () => {
  const dashboard = await DashboardFixture.start();
  try {
    const pid = dashboard.program.child.pid;
    for (const chunked of [false, true]) {
      await refusedWithoutGrowth(
        pid,
        `POST /api/connect, ${chunked ? "chunked" : "Content-Length"}`,
        () => hugePost(dashboard.port, "/api/connect", chunked),
      );
    }
    const link = await dashboard.post("/api/link", { link: "not a link" });
    assertEquals(link.status, 400, "an ordinary body is still read");
  } finally {
    await dashboard.stop();
  }
});
