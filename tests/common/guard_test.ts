import { assert, assertEquals } from "../_assert.ts";
import { bearerToken, generateToken, PageGuard } from "../../lib/common/web/guard.ts";
import type { SessionBook } from "../../lib/common/web/guard.ts";

const get = (url: string, headers: Record<string, string>, method = "GET") =>
  new Request(url, { method, headers });

Deno.test("guard, dashboard-style: Host is one of the page's own names at its port; Origin its own", () => {
  const guard = new PageGuard({ bound: { host: "127.0.0.1", port: 9090 }, loopbackPorts: "bound" });
  for (const host of ["127.0.0.1:9090", "localhost:9090", "LOCALHOST:9090", "[::1]:9090"]) {
    assertEquals(guard.check(get("http://x/", { host })), null, host);
  }
  for (const host of ["127.0.0.1:9091", "evil.example:9090", "127.0.0.1", "127.0.0.2:9090"]) {
    assertEquals(guard.check(get("http://x/", { host }))?.status, 403, host);
  }
  assertEquals(guard.check(get("http://x/", {}))?.reason, "no Host header");
  const own = { host: "127.0.0.1:9090", origin: "http://127.0.0.1:9090" };
  assertEquals(guard.check(get("http://x/", own)), null);
  const other = { host: "127.0.0.1:9090", origin: "http://evil.example" };
  assertEquals(
    guard.check(get("http://x/", other))?.reason,
    `foreign Origin "http://evil.example"`,
  );
  const https = { host: "127.0.0.1:9090", origin: "https://127.0.0.1:9090" };
  assertEquals(guard.check(get("http://x/", https))?.status, 403, "the page is plain HTTP");
  assertEquals(guard.tokenCookie(), null, "no token option: no cookie");
});

Deno.test("guard, token option: in the URL, a bearer or the cookie; else 401, never the token in a reason", () => {
  const secret = generateToken();
  assertEquals(secret.length, 24);
  const guard = new PageGuard({
    bound: { host: "0.0.0.0", port: 9090 },
    loopbackPorts: "bound",
    token: { secret, cookie: "swiftproxy_ui_9090" },
  });
  const host = "laptop.lan:9090";
  const refused = guard.check(get("http://x/", { host }));
  assertEquals(refused, { status: 401, reason: "missing or wrong token" }, "any name off loopback");
  assertEquals(guard.check(get(`http://x/?token=${secret}`, { host })), null);
  assert(guard.urlToken(get(`http://x/?token=${secret}`, { host })));
  assert(!guard.urlToken(get(`http://x/?token=${secret}x`, { host })));
  assertEquals(guard.check(get("http://x/", { host, authorization: `Bearer ${secret}` })), null);
  assertEquals(
    guard.check(get("http://x/", { host, authorization: `Bearer ${secret}x` }))?.status,
    401,
  );
  const cookie = guard.tokenCookie()!;
  assertEquals(cookie, `swiftproxy_ui_9090=${secret}; Path=/; HttpOnly; SameSite=Strict`);
  const sent = `swiftproxy_ui_9090=stale; ${cookie.split(";")[0]}`;
  assertEquals(
    guard.check(get("http://x/", { host, cookie: sent })),
    null,
    "any cookie of the name",
  );
  assertEquals(
    guard.check(get("http://x/", { host, cookie: "swiftproxy_ui_9091=" + secret }))?.status,
    401,
  );
  const foreign = { host, origin: "http://other:9090", authorization: `Bearer ${secret}` };
  assertEquals(guard.check(get("http://x/", foreign))?.status, 403, "Origin before the token");
});

/** A session book as the admin's: sessions by id, each with its CSRF token. */
const book: SessionBook<{ admin: string; csrf: string }> = {
  find: (id) => id === "s1" ? { admin: "root", csrf: "c1" } : undefined,
  csrfMatches: (session, given) => given === session.csrf,
};

Deno.test("guard, admin-style: any loopback name at any port (ssh -L); https Origin over TLS", () => {
  const loopback = new PageGuard({
    bound: { host: "127.0.0.1", port: 9091 },
    loopbackPorts: "any",
    session: { cookie: "swiftproxy_admin", book },
  });
  for (const host of ["127.0.0.1:9091", "localhost:18080", "[::1]:1", "127.0.0.5"]) {
    assertEquals(loopback.check(get("http://x/", { host })), null, host);
  }
  assertEquals(loopback.check(get("http://x/", { host: "rebound.example:9091" }))?.status, 403);
  const tls = new PageGuard({
    bound: { host: "0.0.0.0", port: 9091 },
    tls: true,
    loopbackPorts: "any",
  });
  const host = "panel.example:9091";
  assertEquals(tls.check(get("https://x/", { host, origin: `https://${host}` })), null);
  assertEquals(tls.check(get("https://x/", { host, origin: `http://${host}` }))?.status, 403);
});

Deno.test("guard, session option: the cookie's session; 401 without one, 403 a change without CSRF", () => {
  const guard = new PageGuard({
    bound: { host: "0.0.0.0", port: 9091 },
    tls: true,
    loopbackPorts: "any",
    session: { cookie: "__Host-swiftproxy_admin", book },
  });
  const cookie = "__Host-swiftproxy_admin=s1";
  assertEquals(guard.session(get("https://x/api/users", { cookie })), {
    id: "s1",
    session: { admin: "root", csrf: "c1" },
  });
  const head = guard.session(get("https://x/api/users", { cookie }, "HEAD"));
  assertEquals("id" in head && head.id, "s1", "HEAD reads");
  assertEquals(guard.session(get("https://x/", {})), { status: 401, reason: "not logged in" });
  assertEquals(
    guard.session(get("https://x/", { cookie: "__Host-swiftproxy_admin=s2" })),
    { status: 401, reason: "not logged in" },
  );
  assertEquals(guard.session(get("https://x/", { cookie }, "POST")), {
    status: 403,
    reason: "no or wrong CSRF token",
  });
  const withCsrf = guard.session(get("https://x/", { cookie, "x-csrf-token": "c1" }, "DELETE"));
  assertEquals("id" in withCsrf && withCsrf.id, "s1");
  assertEquals(
    guard.sessionCookie("s1", 3_600_000),
    "__Host-swiftproxy_admin=s1; Path=/; Max-Age=3600; HttpOnly; SameSite=Strict; Secure",
  );
  assertEquals(
    guard.sessionCookie("", 0),
    "__Host-swiftproxy_admin=; Path=/; Max-Age=0; HttpOnly; SameSite=Strict; Secure",
  );
});

Deno.test("bearerToken reads `Authorization: Bearer TOKEN` and nothing else", () => {
  assertEquals(bearerToken(get("http://x/", { authorization: "Bearer abc" })), "abc");
  assertEquals(bearerToken(get("http://x/", { authorization: "bearer  abc" })), "abc");
  assertEquals(bearerToken(get("http://x/", { authorization: "Basic abc" })), undefined);
  assertEquals(bearerToken(get("http://x/", { authorization: "Bearer a b" })), undefined);
  assertEquals(bearerToken(get("http://x/", {})), undefined);
});
