import { assert, assertEquals, assertThrows } from "../_assert.ts";
import { route, Router, unrouted } from "../../lib/common/web/router.ts";
import type { Route } from "../../lib/common/web/router.ts";

const answer = (name: string): Route["handle"] => ({ params, request }) =>
  new Response(`${name} ${request.method} ${JSON.stringify(params)}`);

const routes: Route[] = [
  { method: "GET", path: "/", handle: answer("page") },
  { method: "GET", path: "/api/users/{name}", handle: answer("get") },
  { method: "PATCH", path: "/api/users/{name}", handle: answer("patch") },
  { method: "POST", path: "/api/users/{name}/{verb}", handle: answer("action") },
  { method: "GET", path: "/uPlot.min.css", handle: answer("file") },
];
const router = new Router(routes);

Deno.test("router: a path template's parameters are one segment each, as they came", () => {
  const found = router.find("GET", "/api/users/al%20ice");
  assertEquals(found.route?.path, "/api/users/{name}");
  assertEquals(found.route && found.params, { name: "al%20ice" });
  const action = router.find("POST", "/api/users/bob/enable");
  assertEquals(action.route && action.params, { name: "bob", verb: "enable" });
  assertEquals(router.find("GET", "/api/users/a/b").route, undefined, "a parameter is one segment");
  assertEquals(router.find("GET", "/api/users/").route, undefined, "never empty");
  assertEquals(router.find("GET", "/uPlotXmin.css").route, undefined, "a dot is a dot");
  assertEquals(router.find("GET", "/api/users/x/").route, undefined, "no trailing slash");
});

Deno.test("router: HEAD is served by GET; other methods of a known path are a 405 with Allow", async () => {
  assertEquals(router.find("HEAD", "/").route?.method, "GET");
  assertEquals(router.find("DELETE", "/api/users/x"), {
    route: undefined,
    allow: ["GET", "HEAD", "PATCH"],
  });
  assertEquals(router.find("GET", "/api/users/x/enable"), { route: undefined, allow: ["POST"] });
  assertEquals(router.find("GET", "/nothing"), { route: undefined, allow: [] });

  const notAllowed = await route(router, new Request("http://h/api/users/x", { method: "DELETE" }));
  assertEquals(notAllowed.status, 405);
  assertEquals(notAllowed.headers.get("allow"), "GET, HEAD, PATCH");
  assertEquals(await notAllowed.text(), "Method Not Allowed\n");
  const missing = await route(router, new Request("http://h/missing?x=1"));
  assertEquals([missing.status, missing.headers.get("allow")], [404, null]);
  assertEquals(await missing.text(), "Not Found\n");
  const served = await route(
    router,
    new Request("http://h/api/users/carol?x=/y", { method: "PATCH" }),
  );
  assertEquals(await served.text(), `patch PATCH {"name":"carol"}`);
  assertEquals(unrouted([]).headers.get("x-content-type-options"), "nosniff", "the pages' headers");
});

Deno.test("router: the first route listed wins; two routes for one method and path are refused", () => {
  const first = new Router([
    { method: "GET", path: "/api/users/{name}", handle: answer("any") },
    { method: "GET", path: "/api/users/me", handle: answer("me") },
  ]);
  assertEquals(first.find("GET", "/api/users/me").route?.path, "/api/users/{name}");
  const error = assertThrows(
    () => new Router([...routes, { method: "GET", path: "/", handle: answer("again") }]),
    TypeError,
  );
  assert(error.message.includes("GET /"), error.message);
});
