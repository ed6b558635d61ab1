/**
 * The dashboard's HTTP and WebSocket side, driven like the page drives it: Connect through
 * the real login check against a real remote, the status messages, the settings file, the
 * errors users see, and the refusal of foreign pages.
 */
import { assert, assertEquals } from "../_assert.ts";
import {
  curl,
  delay,
  freePort,
  localArgs,
  Program,
  RemoteFixture,
  startOrigin,
} from "../_harness.ts";
import { accepts, DashboardFixture, loginFor } from "./_dashboard.ts";

Deno.test("Connect checks the login, streams status each second, saves settings 0600; Disconnect stops", async () => {
  const remote = await RemoteFixture.start();
  // The remote's rate limit keeps the download going for a few seconds, at a steady rate.
  await remote.user("set", "alice", "--quota", "1GiB", "--down", "2MiB");
  const dashboard = await DashboardFixture.start();
  const origin = startOrigin();
  const socket = dashboard.socket();
  try {
    await socket.opened;
    const first = await socket.next();
    assertEquals(first.type, "status");
    assertEquals(first.state, "stopped");
    assert(first.pid > 0 && first.pid !== Deno.pid, "the message names the local's process id");

    const listenPort = freePort();
    const connected = await dashboard.post("/api/connect", loginFor(remote, listenPort));
    assertEquals(connected.status, 200, JSON.stringify(connected.body));
    assertEquals(connected.body.state, "listening");
    assertEquals(connected.body.account.user, "alice");
    assertEquals(connected.body.account.limits.quota, 1024 ** 3);
    assertEquals(connected.body.account.limits.down, 2 * 1024 ** 2);

    const saved = JSON.parse(await Deno.readTextFile(dashboard.settingsPath));
    assertEquals(saved.remote, remote.address);
    assertEquals(saved.password, "", "the password is not saved without remember");
    assertEquals((await Deno.stat(dashboard.settingsPath)).mode! & 0o777, 0o600);

    // A download through the proxy shows as a download rate and in the totals.
    const download = curl(
      "-x",
      `socks5h://127.0.0.1:${listenPort}`,
      `http://127.0.0.1:${origin.port}/bytes/6000000`,
      "-o",
      "/dev/null",
    );
    const busy = await socket.next((s) => s.rate.down > 0 && s.open >= 1);
    const row = busy.connections[0]!;
    assertEquals(row.protocol, "SOCKS5");
    assertEquals(row.destination, `127.0.0.1:${origin.port}`);
    assert(/^127\.0\.0\.1:\d+$/.test(row.client), `client ${row.client}`);
    for (const key of ["id", "up", "down", "age", "rate"] as const) {
      assertEquals(typeof row[key], "number", key);
    }
    assertEquals(busy.history.down.length, 60);
    assertEquals(busy.history.down.at(-1), busy.rate.down);
    assertEquals((await download).code, 0);
    const after = await socket.next((s) => s.open === 0);
    assert(after.totals.down >= 6_000_000, `totals.down ${after.totals.down}`);

    // Messages keep coming about once a second. A change of state goes out at once, between
    // two seconds (the page shows it without waiting), so the gaps are read past the last one.
    const settled = socket.messages.length;
    await socket.next(() => socket.messages.length >= settled + 3);
    const times = socket.messages.slice(-3).map((m) => m.at);
    const gaps = times.slice(1).map((t, i) => t - times[i]!);
    assert(gaps.every((gap) => gap > 300 && gap < 3000), `gaps between messages: ${gaps}`);

    const stopped = await dashboard.post("/api/disconnect");
    assertEquals(stopped.body.state, "stopped");
    assert(!(await accepts(listenPort)), "the proxy port still accepts connections");
  } finally {
    await socket.close();
    await origin.close();
    await dashboard.stop();
    await remote.stop();
  }
});

Deno.test("Connect errors are told in words: login refused, remote unreachable, certificate, port in use", async () => {
  const remote = await RemoteFixture.start();
  const dashboard = await DashboardFixture.start();
  const taken = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  try {
    const wrong = await dashboard.post("/api/connect", loginFor(remote, freePort(), "wrong"));
    assertEquals(wrong.status, 502);
    assertEquals(wrong.body.problem.kind, "login-refused");
    assert(/Login refused/.test(wrong.body.problem.message), wrong.body.problem.message);

    const unreachable = await dashboard.post("/api/connect", {
      ...loginFor(remote, freePort()),
      remote: `127.0.0.1:${freePort()}`,
    });
    assertEquals(unreachable.body.problem.kind, "remote-unreachable");
    assert(/Remote unreachable/.test(unreachable.body.problem.message));

    const untrusted = await dashboard.post("/api/connect", {
      ...loginFor(remote, freePort()),
      ca: "",
    });
    assertEquals(untrusted.body.problem.kind, "certificate-not-trusted");
    assert(/Certificate not trusted/.test(untrusted.body.problem.message));

    const inUse = await dashboard.post("/api/connect", loginFor(remote, taken.addr.port));
    assertEquals(inUse.body.problem.kind, "port-in-use");
    assert(/Port in use/.test(inUse.body.problem.message));

    // The status message carries the last problem too, for the page.
    const status = await (await fetch(`${dashboard.origin}/api/status`)).json();
    assertEquals(status.problem.kind, "port-in-use");
    assertEquals(status.state, "stopped");
    assert(
      !(await Deno.stat(dashboard.settingsPath).catch(() => null)),
      "failed Connects save nothing",
    );
  } finally {
    taken.close();
    await dashboard.stop();
    await remote.stop();
  }
});

Deno.test("a plain Trojan server (Debian's trojan) is reported as not a SwiftProxy remote", async () => {
  const remote = await RemoteFixture.start(); // only for its certificate
  const dashboard = await DashboardFixture.start();
  const port = freePort();
  const config = `${dashboard.dir}/trojan.json`;
  await Deno.writeTextFile(
    config,
    JSON.stringify({
      run_type: "server",
      local_addr: "127.0.0.1",
      local_port: port,
      remote_addr: "127.0.0.1",
      remote_port: freePort(),
      password: ["alice:alice-secret"],
      log_level: 1,
      ssl: { cert: remote.certPath, key: `${remote.dir}/tls/key.pem` },
    }),
  );
  const trojan = new Deno.Command("trojan", {
    args: ["-c", config],
    stdout: "null",
    stderr: "null",
  }).spawn();
  try {
    for (let i = 0; i < 100 && !(await accepts(port)); i++) await delay(50);
    for (const password of ["alice-secret", "wrong"]) {
      const result = await dashboard.post("/api/connect", {
        ...loginFor(remote, freePort(), password),
        remote: `127.0.0.1:${port}`,
      });
      assertEquals(result.body.problem?.kind, "not-swiftproxy", `password ${password}`);
      assert(/Not a SwiftProxy remote/.test(result.body.problem.message));
    }
  } finally {
    trojan.kill();
    await trojan.status;
    await dashboard.stop();
    await remote.stop();
  }
});

Deno.test("foreign Origin and Host are refused (403), requests and WebSocket upgrades alike", async () => {
  const dashboard = await DashboardFixture.start();
  try {
    const get = (headers: Record<string, string>, path = "/api/status") =>
      curl(
        "-o",
        "/dev/null",
        "-w",
        "%{http_code}",
        ...Object.entries(headers).flatMap(([k, v]) => ["-H", `${k}: ${v}`]),
        `${dashboard.origin}${path}`,
      ).then((r) => new TextDecoder().decode(r.body));
    assertEquals(await get({}), "200");
    assertEquals(await get({ Origin: dashboard.origin }), "200");
    assertEquals(await get({ Host: `localhost:${dashboard.port}` }), "200");
    assertEquals(await get({ Origin: "http://evil.example" }), "403");
    assertEquals(await get({ Origin: "null" }), "403");
    assertEquals(await get({ Host: `evil.example:${dashboard.port}` }), "403", "DNS rebinding");
    assertEquals(await get({ Host: "127.0.0.1:1" }), "403");
    assertEquals(await get({ Origin: "http://evil.example" }, "/"), "403");

    const connect = await fetch(`${dashboard.origin}/api/connect`, {
      method: "POST",
      headers: { "content-type": "application/json", origin: "http://evil.example" },
      body: JSON.stringify({ remote: "127.0.0.1:1" }),
    });
    assertEquals(connect.status, 403);
    await connect.body?.cancel();

    const upgrade = await curl(
      "-o",
      "/dev/null",
      "-w",
      "%{http_code}",
      "-H",
      "Connection: Upgrade",
      "-H",
      "Upgrade: websocket",
      "-H",
      "Sec-WebSocket-Version: 13",
      "-H",
      "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==",
      "-H",
      "Origin: http://evil.example",
      "--max-time",
      "5",
      `${dashboard.origin}/ws`,
    );
    assertEquals(new TextDecoder().decode(upgrade.body), "403");
    const foreign = new WebSocket(`ws://127.0.0.1:${dashboard.port}/ws`, {
      headers: { origin: "http://evil.example" },
    } as unknown as string[]);
    const outcome = await new Promise<string>((resolve) => {
      foreign.onopen = () => resolve("open");
      foreign.onerror = (event) => resolve((event as ErrorEvent).message);
    });
    assert(/403/.test(outcome), `a foreign page's WebSocket: ${outcome}`);
    const own = dashboard.socket();
    await own.opened;
    await own.close();
  } finally {
    await dashboard.stop();
  }
});

Deno.test("--ui-token (here SWIFTPROXY_UI_TOKEN): requests need the token; the link sets a cookie; /proxy.pac points at the proxy", async () => {
  const dashboard = await DashboardFixture.start(["--listen", "127.0.0.1:4321"], undefined, {
    SWIFTPROXY_UI_TOKEN: "s3cret-token",
  });
  try {
    assert(!dashboard.program.output.includes("s3cret-token"), "a given token is not printed");
    const bare = await fetch(`${dashboard.origin}/api/status`);
    assertEquals(bare.status, 401);
    await bare.body?.cancel();
    const link = await fetch(`${dashboard.origin}/?token=s3cret-token`, { redirect: "manual" });
    assertEquals(link.status, 303);
    const cookie = link.headers.get("set-cookie")!.split(";")[0]!;
    assert(
      /HttpOnly/.test(link.headers.get("set-cookie")!) &&
        /SameSite=Strict/.test(link.headers.get("set-cookie")!),
    );
    const withCookie = await fetch(`${dashboard.origin}/api/status`, { headers: { cookie } });
    assertEquals(withCookie.status, 200);
    await withCookie.body?.cancel();
    const wrong = await fetch(`${dashboard.origin}/api/status`, {
      headers: { authorization: "Bearer nope" },
    });
    assertEquals(wrong.status, 401);
    await wrong.body?.cancel();
    const pac = await fetch(`${dashboard.origin}/proxy.pac`, {
      headers: { authorization: "Bearer s3cret-token" },
    });
    assertEquals(pac.headers.get("content-type"), "application/x-ns-proxy-autoconfig");
    const text = await pac.text();
    assert(text.includes("FindProxyForURL") && text.includes("SOCKS5 127.0.0.1:4321"), text);
  } finally {
    await dashboard.stop();
  }
});

Deno.test("off loopback the dashboard requires a token, generated and printed once", async () => {
  const port = freePort();
  const dir = await Deno.makeTempDir({ prefix: "swiftproxy-dashboard-" });
  const program = new Program(
    localArgs("--ui", `0.0.0.0:${port}`, "--config", `${dir}/local.json`),
  );
  try {
    const [, token] = await program.waitFor(
      /dashboard on http:\/\/127\.0\.0\.1:\d+\/\?token=([\w-]{20,})/,
    );
    assertEquals(program.output.split(token!).length, 2, "the token is printed exactly once");
    const bare = await fetch(`http://127.0.0.1:${port}/`);
    assertEquals(bare.status, 401);
    await bare.body?.cancel();
    const ok = await fetch(`http://127.0.0.1:${port}/api/status`, {
      headers: { authorization: `Bearer ${token}` },
    });
    assertEquals(ok.status, 200);
    await ok.body?.cancel();
  } finally {
    await program.stop();
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("remember keeps the password in the file; the next start connects from it", async () => {
  const remote = await RemoteFixture.start();
  const first = await DashboardFixture.start();
  let second: DashboardFixture | undefined;
  try {
    const listenPort = freePort();
    const connected = await first.post("/api/connect", {
      ...loginFor(remote, listenPort),
      remember: true,
    });
    assertEquals(connected.status, 200, JSON.stringify(connected.body));
    const saved = JSON.parse(await Deno.readTextFile(first.settingsPath));
    assertEquals(saved.password, "alice-secret");
    assertEquals((await Deno.stat(first.settingsPath)).mode! & 0o777, 0o600);
    const page = await (await fetch(`${first.origin}/api/settings`)).json();
    assertEquals(page.password, "", "the page is never sent the password");
    assertEquals(page.passwordKnown, true);
    await first.post("/api/disconnect");

    second = await DashboardFixture.start([], saved);
    await second.program.waitFor(/proxy on 127\.0\.0\.1:(\d+)/);
    assert(await accepts(listenPort), "the proxy listens from the saved settings");
    const socket = second.socket();
    const status = await socket.next((s) => s.account !== null);
    assertEquals(status.account!.user, "alice");
    await socket.close();
  } finally {
    await second?.stop();
    await first.stop();
    await remote.stop();
  }
});
