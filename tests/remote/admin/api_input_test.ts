/**
 * What the admin API takes: every value is checked as the `user` commands check their options,
 * in the same words; a refused request stores nothing; names that differ only in case are one
 * name; no path or value reaches the prototype; and no input, however odd, gets a 500.
 */
import { assert, assertEquals } from "../../_assert.ts";
import { remoteArgs, runProgram } from "../../_harness.ts";
import { AdminClient, startAdmin } from "./_admin.ts";

const admin = await startAdmin({}, { alice: "alice-secret" });
const client = new AdminClient(admin.origin);
await client.login();

/** The stored users, name → their row as `user list --json` would show it. */
async function stored(): Promise<string> {
  return JSON.stringify(await admin.remote.store.list());
}

Deno.test("admin API input: out-of-range and mistyped values get 400 with the field named; nothing is stored", async () => {
  const cases: [Record<string, unknown>, RegExp][] = [
    [{ expiresAt: 1e300 }, /^expiresAt: expected a last day such as 2027-01-01/],
    [
      { expiresAt: "2027-01-01T12:00:00+99:99" },
      /^expiresAt: "2027-01-01T12:00:00\+99:99" is not a time/,
    ],
    [{ expiresAt: true }, /^expiresAt: expected text such as 2027-01-01, or a number, got true/],
    [{ upLimit: 1e308 }, /^upLimit: expected a rate such as 512KiB/],
    [{ downLimit: -1 }, /^downLimit: expected a rate/],
    [{ quota: 1e308 }, /^quota: expected a size such as 50GiB/],
    [{ quota: "9000000PiB" }, /^quota: "9000000PiB" is too large/],
    [{ maxConns: true }, /^maxConns: expected text such as 16, or a number, got true/],
    [{ maxConns: "0x10" }, /^maxConns: expected a whole number from 0 to 1000000, got "0x10"/],
    [{ maxConns: 1e308 }, /^maxConns: expected a whole number from 0 to 1000000, got "1e\+308"/],
    [{ maxConns: 2.5 }, /^maxConns: expected a whole number/],
    [{ resetDay: 29 }, /^resetDay: expected a day from 1 to 28, or 0 for none, got "29"/],
    [{ resetDay: [5] }, /^resetDay: expected text such as 5, or a number, got \[5\]/],
  ];
  const before = await stored();
  for (const [fields, message] of cases) {
    const added = await client.call("POST", "/api/users", { name: "bob", ...fields });
    assertEquals(
      added.status,
      400,
      `POST ${JSON.stringify(fields)}: ${JSON.stringify(added.body)}`,
    );
    assert(message.test(added.body.error), `POST ${JSON.stringify(fields)}: ${added.body.error}`);
    const changed = await client.call("PATCH", "/api/users/alice", fields);
    assertEquals(changed.status, 400, `PATCH ${JSON.stringify(fields)}`);
    assertEquals(changed.body.error, added.body.error);
  }
  for (const name of [["bob"], 42, null, { name: "bob" }, "bo b", ""]) {
    const added = await client.call("POST", "/api/users", { name });
    assertEquals(added.status, 400, `name ${JSON.stringify(name)}`);
    assert(
      /^name: expected a user name of 1 to 64 letters/.test(added.body.error),
      added.body.error,
    );
  }
  const password = await client.call("POST", "/api/users", { name: "bob", password: 12345678 });
  assertEquals(password.status, 400);
  assertEquals(await stored(), before, "nothing was stored");
  // `user list` still reads every user
  assertEquals((await client.call("GET", "/api/users")).status, 200);
});

Deno.test("admin API input: the CLI refuses the same values in the same words", async () => {
  const dir = await Deno.makeTempDir({ prefix: "swiftproxy-input-" });
  try {
    const cases: [string, string, unknown][] = [
      ["--max-conns", "maxConns", "0x10"],
      ["--up", "upLimit", "1e308"],
      ["--expires", "expiresAt", "2027-02-31"],
    ];
    for (const [option, field, value] of cases) {
      const api = await client.call("POST", "/api/users", { name: "bob", [field]: value });
      assertEquals(api.status, 400);
      const words = api.body.error.slice(`${field}: `.length);
      const cli = await runProgram(
        remoteArgs("user", "add", "bob", option, String(value), "--data", dir),
      );
      assertEquals(cli.code, 2, cli.stderr);
      assert(cli.stderr.includes(words), `the CLI said:\n${cli.stderr}\nthe API: ${words}`);
    }
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("admin API input: a name that differs from a user's only in case is refused", async () => {
  const before = await stored();
  for (const name of ["ALICE", "Alice"]) {
    const added = await client.call("POST", "/api/users", { name });
    assertEquals(added.status, 400, name);
    assert(added.body.error.includes("differs from it only in case"), added.body.error);
  }
  assertEquals(await stored(), before);
});

Deno.test("admin API input: prototype names and malformed escapes are 400 or 404, never 200 or 500", async () => {
  for (const action of ["constructor", "__proto__", "hasOwnProperty", "toString", "valueOf"]) {
    const reply = await client.call("POST", `/api/users/alice/${action}`, {});
    assertEquals(reply.status, 404, `action ${action}: ${JSON.stringify(reply.body)}`);
  }
  for (const range of ["constructor", "__proto__", "toString", "hasOwnProperty"]) {
    const reply = await client.call("GET", `/api/history?range=${range}`);
    assertEquals(reply.status, 400, `range ${range}`);
    assert(reply.body.error.startsWith("range: expected 24h or 90d"), reply.body.error);
  }
  for (const path of ["/api/users/%E0%A4%A", "/api/users/%ZZ", "/api/users/a%"]) {
    for (const method of ["GET", "PATCH", "DELETE"]) {
      const reply = await client.call(method, path, method === "PATCH" ? { quota: 0 } : undefined);
      assertEquals(reply.status, 400, `${method} ${path}`);
      assert(reply.body.error.includes("malformed % escape"), reply.body.error);
    }
  }
  for (const name of ["constructor", "__proto__", "toString"]) {
    assertEquals((await client.call("GET", `/api/users/${name}`)).status, 404, name);
  }
});

Deno.test("admin API input: odd JSON values in every field never get a 500", async () => {
  const odd: unknown[] = [
    null,
    true,
    false,
    0,
    -0,
    -1,
    0.5,
    1.5,
    2 ** 53,
    1e21,
    1e308,
    -1e308,
    "",
    " ",
    "0x10",
    "1e3",
    "Infinity",
    "NaN",
    "-5",
    "2MiB",
    "5 parsecs",
    "\u0000",
    "\u202e",
    "𝕏",
    "9".repeat(400),
    "never",
    "2027-13-01",
    "0000-01-01",
    [],
    [1],
    ["2MiB"],
    {},
    { toString: "2MiB" },
    { __proto__: { x: 1 } },
  ];
  const fields = [
    "name",
    "password",
    "upLimit",
    "downLimit",
    "quota",
    "maxConns",
    "expiresAt",
    "resetDay",
    "host",
  ];
  const statuses = new Map<number, number>();
  const count = (status: number) => statuses.set(status, (statuses.get(status) ?? 0) + 1);
  let i = 0;
  for (const field of fields) {
    for (const value of odd) {
      i++;
      const name = field === "name" ? value : `fuzz${i}`;
      const requests: [string, string, unknown][] = [
        ["POST", "/api/users", { name, [field]: value }],
        ["PATCH", "/api/users/alice", { [field]: value }],
        ["POST", "/api/users/alice/link", { [field]: value }],
      ];
      for (const [method, path, body] of requests) {
        const reply = await client.call(method, path, body);
        count(reply.status);
        assert(
          reply.status < 500,
          `${method} ${path} ${JSON.stringify(body)}: ${reply.status} ${
            JSON.stringify(reply.body)
          }`,
        );
      }
    }
  }
  for (const body of [[], "text", 1, null, [{ name: "bob" }]]) {
    const reply = await client.call("POST", "/api/users", body);
    assertEquals(reply.status, 400, JSON.stringify(body));
  }
  const broken = await client.call("PATCH", "/api/users/alice", undefined, {
    "content-type": "application/json",
  });
  assert(broken.status < 500, `an empty body: ${broken.status}`);
  // Whatever was stored can be listed and shown.
  const users = await client.call("GET", "/api/users");
  assertEquals(users.status, 200);
  for (const user of await admin.remote.store.list()) {
    for (const value of [user.upLimit, user.downLimit, user.quota, user.maxConns]) {
      assert(Number.isSafeInteger(value) && value >= 0, `${user.name}: ${value}`);
    }
    if (user.expiresAt !== null) new Date(user.expiresAt).toISOString();
  }
  assert((statuses.get(400) ?? 0) > 100, `statuses: ${JSON.stringify([...statuses])}`);
});

Deno.test("admin panel: a known path asked with another method is a 405 naming the methods it takes", async () => {
  const put = await client.call("PUT", "/api/users/alice", { quota: 0 });
  assertEquals(put.status, 405, JSON.stringify(put.body));
  assertEquals(put.headers.get("allow"), "GET, HEAD, PATCH, DELETE");
  const login = await client.call("DELETE", "/api/login");
  assertEquals([login.status, login.headers.get("allow")], [405, "POST, GET, HEAD"]);
  const file = await client.call("POST", "/app.js", {});
  assertEquals([file.status, file.headers.get("allow")], [405, "GET, HEAD"]);
  const missing = await client.call("GET", "/api/nothing");
  assertEquals([missing.status, missing.headers.get("allow")], [404, null]);
  // HEAD is served wherever GET is: the same status, no body.
  const head = await fetch(`${admin.origin}/app.js`, { method: "HEAD" });
  assertEquals([head.status, await head.text()], [200, ""]);
  assertEquals(head.headers.get("content-type"), "text/javascript; charset=utf-8");
  // Signed out, an API path is still refused before it is looked up.
  const signedOut = await new AdminClient(admin.origin).call("PUT", "/api/users/alice", {});
  assertEquals(signedOut.status, 401);
});

Deno.test("teardown", async () => {
  await admin.stop();
});
