/**
 * The admin panel's API from outside, as a browser or an attacker reaches it: every path
 * needs a session, foreign pages and hosts are refused, every change needs the CSRF token,
 * logins are throttled, and no secret reaches the log. Changes act on the running server at
 * once, as the CLI's do.
 */
import { assert, assertEquals } from "../../_assert.ts";
import { delay, startOrigin } from "../../_harness.ts";
import { trojan } from "../../hardening/_helpers.ts";
import { AdminConfigError, AdminServer } from "../../../lib/remote/admin/server.ts";
import { metricsAllowed } from "../../../lib/remote/ops/metrics.ts";
import { PageGuard } from "../../../lib/common/web/guard.ts";
import { ADMIN_PASSWORD, AdminClient, startAdmin } from "./_admin.ts";

/** The status of one request sent as raw HTTP/1.1 (fetch will not send a foreign Host). */
async function rawStatus(
  origin: string,
  method: string,
  path: string,
  headers: Record<string, string>,
): Promise<number> {
  const conn = await Deno.connect({ hostname: "127.0.0.1", port: Number(new URL(origin).port) });
  const head = Object.entries(headers).map(([k, v]) => `${k}: ${v}\r\n`).join("");
  await conn.write(
    new TextEncoder().encode(
      `${method} ${path} HTTP/1.1\r\n${head}content-length: 0\r\nconnection: close\r\n\r\n`,
    ),
  );
  const buffer = new Uint8Array(64);
  const n = await conn.read(buffer);
  conn.close();
  return Number(new TextDecoder().decode(buffer.subarray(0, n ?? 0)).split(" ")[1]);
}

const API_PATHS: [string, string][] = [
  ["GET", "/api/session"],
  ["GET", "/api/users"],
  ["POST", "/api/users"],
  ["GET", "/api/users/alice"],
  ["PATCH", "/api/users/alice"],
  ["DELETE", "/api/users/alice"],
  ["POST", "/api/users/alice/disable"],
  ["POST", "/api/users/alice/enable"],
  ["POST", "/api/users/alice/reset-usage"],
  ["GET", "/api/users/alice/connections"],
  ["POST", "/api/connections/1/disconnect"],
  ["GET", "/api/history?range=24h"],
  ["GET", "/api/ws"],
  ["POST", "/api/logout"],
  ["GET", "/api/no-such-thing"],
];

Deno.test("admin API: no session → 401 on every path; foreign Origin or Host → 403; no CSRF token → 403", async () => {
  const admin = await startAdmin();
  try {
    const anonymous = new AdminClient(admin.origin);
    for (const [method, path] of API_PATHS) {
      const body = method === "GET" || method === "DELETE" ? undefined : {};
      assertEquals((await anonymous.call(method, path, body)).status, 401, `${method} ${path}`);
    }
    const client = new AdminClient(admin.origin);
    assertEquals((await client.login()).status, 200);
    const cookie = (await new AdminClient(admin.origin).login()).headers.get("set-cookie")!;
    assert(/HttpOnly/.test(cookie) && /SameSite=Strict/.test(cookie), cookie);
    assert(/Max-Age=\d+/.test(cookie) && !/Secure/.test(cookie), "expiring; no Secure on HTTP");

    for (const [method, path] of API_PATHS) {
      const body = method === "GET" || method === "DELETE" ? undefined : {};
      const evil = await client.call(method, path, body, { origin: "https://evil.example" });
      assertEquals(evil.status, 403, `foreign Origin: ${method} ${path}`);
      const rebound = await rawStatus(admin.origin, method, path, {
        host: `evil.example:${new URL(admin.origin).port}`,
        cookie: client.cookie,
        "x-csrf-token": client.csrf,
      });
      assertEquals(rebound, 403, `DNS rebinding: ${method} ${path}`);
      if (method !== "GET") {
        const forged = await client.call(method, path, body, { "x-csrf-token": null });
        assertEquals(forged.status, 403, `no CSRF token: ${method} ${path}`);
        const wrong = await client.call(method, path, body, { "x-csrf-token": "x".repeat(43) });
        assertEquals(wrong.status, 403, `a wrong CSRF token: ${method} ${path}`);
      }
    }
    assertEquals(
      (await client.call("POST", "/api/login", {}, { origin: "http://evil.example" })).status,
      403,
    );
    assertEquals(
      (await client.call("GET", "/", undefined, { origin: "http://evil.example" })).status,
      403,
    );
    // Reached through `ssh -L 8000:127.0.0.1:PORT`: another port, still a loopback name.
    const forwarded = await rawStatus(admin.origin, "GET", "/api/users", {
      host: "localhost:8000",
      origin: "http://localhost:8000",
      cookie: client.cookie,
    });
    assertEquals(forwarded, 200);
    assertEquals((await client.call("GET", "/api/users")).status, 200);
    assertEquals((await client.call("POST", "/api/logout")).status, 200);
    assertEquals((await client.call("GET", "/api/users")).status, 401, "logged out");
  } finally {
    await admin.stop();
  }
});

Deno.test("admin API: wrong passwords are throttled per source, even the right one after; no secret is logged", async () => {
  const admin = await startAdmin({ sessions: { loginLimit: 3, coolOffMs: 60_000 } });
  try {
    const client = new AdminClient(admin.origin);
    for (let i = 0; i < 4; i++) assertEquals((await client.login(`guess-${i}-wrong`)).status, 401);
    const refused = await client.login();
    assertEquals(refused.status, 429, "the right password while cooling off");
    assert(refused.headers.get("retry-after"), "Retry-After");
    const metrics = await (await fetch(`${admin.origin}/metrics`)).text();
    assert(/swiftproxy_admin_login_throttled_sources 1/.test(metrics), "the metric counts it");
    await admin.remote.program.waitFor(/admin login from 127\.0\.0\.1 refused: too many/);
    assert(!admin.remote.program.output.includes("guess-"), "a guess was logged");
  } finally {
    await admin.stop();
  }
});

Deno.test("admin API: add, change, disable, reset, disconnect and remove act on the running server at once", async () => {
  const origin = startOrigin();
  const admin = await startAdmin();
  const remote = admin.remote;
  try {
    const client = new AdminClient(admin.origin);
    await client.login();
    const added = await client.call("POST", "/api/users", {
      name: "bob",
      downLimit: "2MiB",
      quota: "1GiB",
      expiresAt: "2031-01-01",
      resetDay: 5,
    });
    assertEquals(added.status, 201, JSON.stringify(added.body));
    const password: string = added.body.password;
    assert(password.length >= 20, "a generated password, answered once");
    assertEquals(
      [added.body.user.downLimit, added.body.user.quota, added.body.user.resetDay],
      [2 * 1024 * 1024, 2 ** 30, 5],
    );
    // A day alone is the last day of access, through 24:00 UTC, as on the command line.
    assertEquals(added.body.user.expiresAt, Date.parse("2031-01-02") - 1);
    const bad = await client.call("POST", "/api/users", { name: "carol", downLimit: "fast" });
    assertEquals(bad.status, 400);
    assert(/downLimit: expected a rate such as/.test(bad.body.error), bad.body.error);
    assertEquals((await client.call("POST", "/api/users", { name: "bob" })).status, 400, "taken");
    assertEquals(
      (await client.call("POST", "/api/users", { name: "dave", password: "short" })).status,
      400,
    );
    const list = await remote.user("list", "--json");
    assert(list.includes('"name": "bob"') && list.includes('"resetDay": 5'), list);

    const request = new TextEncoder().encode(
      "GET /bytes/1000 HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
    );
    const fetchAs = (credential: string) =>
      trojan(remote, {
        credential,
        destination: { host: "127.0.0.1", port: origin.port },
        payload: request,
      });
    assert((await fetchAs(`bob:${password}`)).bytes.length > 1000, "bob's new account works");

    // A slow download (bob at 64 KiB/s), listed with its source, then disconnected.
    const slowed = await client.call("PATCH", "/api/users/bob", { downLimit: "64KiB" });
    assertEquals(slowed.body.downLimit, 65536);
    assertEquals(remote.server.accounts.byName("bob")!.downBucket.rate, 65536, "applied at once");
    const long = trojan(remote, {
      credential: `bob:${password}`,
      destination: { host: "127.0.0.1", port: origin.port },
      payload: new TextEncoder().encode(
        "GET /bytes/50000000 HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
      ),
      readMs: 20_000,
    });
    let connections: { id: number; client: string; destination: string }[] = [];
    for (let i = 0; i < 50 && connections.length === 0; i++) {
      await delay(100);
      connections = (await client.call("GET", "/api/users/bob/connections")).body;
    }
    assertEquals(connections.length, 1);
    assertEquals(connections[0]!.destination, `127.0.0.1:${origin.port}`);
    const view = (await client.call("GET", "/api/users/bob")).body;
    assertEquals([view.openConns, view.sources], [1, ["127.0.0.1"]]);
    const started = performance.now();
    const kicked = await client.call("POST", `/api/connections/${connections[0]!.id}/disconnect`);
    assertEquals(kicked.status, 200);
    const ended = await long;
    assert(ended.closed && performance.now() - started < 1000, "closed within a second");
    assertEquals((await client.call("POST", "/api/connections/999999/disconnect")).status, 404);

    assertEquals((await client.call("POST", "/api/users/bob/disable")).body.status, "disabled");
    assertEquals((await fetchAs(`bob:${password}`)).bytes.length, 0, "disabled: refused");
    assertEquals((await client.call("POST", "/api/users/bob/enable")).body.status, "active");
    await delay(700); // the kicked download's last bytes are written to the store
    const reset = await client.call("POST", "/api/users/bob/reset-usage");
    assertEquals(reset.body.used, 0);
    assert(reset.body.lastResetAt > 0, "a reset by hand is the last reset");

    await admin.side.history.write();
    admin.side.sampler.sample();
    await admin.side.history.write();
    const history = await client.call("GET", "/api/history?user=bob&range=24h");
    assertEquals(history.body.resolution, "minute");
    assert(history.body.points.length >= 1 && history.body.points[0].down > 0, "bob's chart");
    const server = await client.call("GET", "/api/history?range=90d");
    assertEquals(server.body.resolution, "day");
    assert(server.body.points[0].down >= history.body.points[0].down, "the server's chart");
    assertEquals((await client.call("GET", "/api/history?range=1y")).status, 400);

    assertEquals((await client.call("DELETE", "/api/users/bob")).status, 200);
    assertEquals((await client.call("GET", "/api/users/bob")).status, 404);
    assertEquals((await fetchAs(`bob:${password}`)).bytes.length, 0, "removed: refused");
    const log = remote.program.output;
    for (const secret of [ADMIN_PASSWORD, password, client.csrf, client.cookie.split("=")[1]!]) {
      assert(!log.includes(secret), "a password, token or session id is in the log");
    }
    assert(/admin: added user bob/.test(log) && /admin: removed user bob/.test(log), log);
  } finally {
    await admin.stop();
    await origin.close();
  }
});

Deno.test("admin panel: off loopback only over TLS; /metrics there only with the bearer token", async () => {
  const admin = await startAdmin();
  try {
    let error: unknown;
    try {
      new AdminServer({
        listen: { host: "0.0.0.0", port: 0 },
        server: admin.remote.server,
        store: admin.remote.store,
        sampler: admin.side.sampler,
      });
    } catch (caught) {
      error = caught;
    }
    assert(error instanceof AdminConfigError && /only over TLS/.test(error.message), `${error}`);
    const request = (headers: Record<string, string>) =>
      new Request("https://panel.example:9091/metrics", { headers });
    assertEquals(metricsAllowed(request({}), true), true, "loopback: no token needed");
    assertEquals(metricsAllowed(request({}), false, "t0ken-t0ken"), false);
    assertEquals(
      metricsAllowed(request({ authorization: "Bearer wrong" }), false, "t0ken-t0ken"),
      false,
    );
    assertEquals(
      metricsAllowed(request({ authorization: "Bearer t0ken-t0ken" }), false, "t0ken-t0ken"),
      true,
    );
    assertEquals(
      metricsAllowed(request({ authorization: "Bearer x" }), false),
      false,
      "no token set",
    );
    // The panel's guard off loopback, over TLS.
    const guard = new PageGuard({
      bound: { host: "0.0.0.0", port: 9091 },
      tls: true,
      loopbackPorts: "any",
    });
    const foreignRequest = (request: Request) => guard.check(request);
    const tlsOrigin = request({ host: "panel.example:9091", origin: "https://panel.example:9091" });
    assertEquals(foreignRequest(tlsOrigin), null, "any name over TLS, own Origin");
    const plain = request({ host: "panel.example:9091", origin: "http://panel.example:9091" });
    assert(foreignRequest(plain), "an http:// Origin for an https panel");
  } finally {
    await admin.stop();
  }
});
