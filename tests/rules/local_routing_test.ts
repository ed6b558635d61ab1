/**
 * The local's rules through the real path (local.ts and remote.ts, curl, SOCKS5 by hand): a
 * DIRECT destination is reached with no tunnel at the remote (its access log and metrics
 * unchanged), REJECT is SOCKS5 REP 0x02 and HTTP 403 naming the rule, PROXY goes through, a
 * UDP association sends DIRECT datagrams out of the local and PROXY ones through the tunnel,
 * the local's access log carries the route, SIGHUP reloads (a bad file keeps the rules in
 * force), `--direct-country` sends loopback direct, and a bad rules file stops the start with
 * exit 2, its name and line.
 */
import { assert, assertEquals } from "../_assert.ts";
import {
  curl,
  delay,
  freePort,
  localArgs,
  LocalFixture,
  RemoteFixture,
  runProgram,
  spawnLocal,
} from "../_harness.ts";
import { closeQuietly, namedOrigin, socksRequest } from "../e2e/_e2e.ts";
import { EchoServer, SocksUdpClient } from "../udp/_udp.ts";

const text = new TextDecoder();

function assertStringIncludes(actual: string, expected: string): void {
  assert(actual.includes(expected), `expected ${JSON.stringify(expected)} in:\n${actual}`);
}

/** The remote's tunnel counters on its admin port (`/metrics`), one line per series. */
async function tunnelMetrics(adminPort: number): Promise<string> {
  const body = await (await fetch(`http://127.0.0.1:${adminPort}/metrics`)).text();
  return body.split("\n").filter((line) =>
    /^swiftproxy_(sessions|tunnels|bytes|connections|udp)/.test(line) &&
    !/active|open/.test(line)
  ).join("\n");
}

Deno.test("rules on the local: DIRECT skips the remote, REJECT is refused naming the rule, PROXY goes through, SIGHUP reloads", async (t) => {
  const adminPort = freePort();
  const remote = await RemoteFixture.start(undefined, ["--admin", `127.0.0.1:${adminPort}`]);
  const direct = namedOrigin("direct");
  const proxied = namedOrigin("proxied");
  const directEcho = new EchoServer();
  const proxiedEcho = new EchoServer();
  const rulesPath = `${remote.dir}/rules.yaml`;
  const rules = (directAction: string) =>
    [
      "rules:",
      "  - DOMAIN-SUFFIX,ads.example,REJECT",
      `  - DST-PORT,${direct.port},${directAction}`,
      `  - DST-PORT,${directEcho.port},DIRECT`,
      "  - MATCH,PROXY",
      "",
    ].join("\n");
  await Deno.writeTextFile(rulesPath, rules("DIRECT"));
  let local: LocalFixture | undefined;
  try {
    local = await LocalFixture.start(remote, "alice", "alice-secret", ["--rules", rulesPath]);
    const socks = `socks5h://${local.address}`;

    await t.step("DIRECT reaches the destination with no tunnel at the remote", async () => {
      // One tunnel first, so the metrics have their series.
      const warm = await curl("-x", socks, `http://127.0.0.1:${proxied.port}/warm`);
      assertEquals(text.decode(warm.body), "proxied GET /warm 0\n", warm.stderr);
      await remote.program.waitFor(new RegExp(`-> 127\\.0\\.0\\.1:${proxied.port}`));
      const before = await tunnelMetrics(adminPort);
      assert(before.length > 0, "the remote's metrics have tunnel series");
      const got = await curl("-x", socks, `http://127.0.0.1:${direct.port}/a`);
      assertEquals(text.decode(got.body), "direct GET /a 0\n", got.stderr);
      const viaHttp = await curl(
        "-x",
        `http://${local!.address}`,
        `http://127.0.0.1:${direct.port}/b`,
      );
      assertEquals(text.decode(viaHttp.body), "direct GET /b 0\n", viaHttp.stderr);
      await local!.program.waitFor(/route=direct rule=DST-PORT/);
      await delay(300);
      assertEquals(await tunnelMetrics(adminPort), before, "the remote's metrics");
      assert(
        !remote.program.output.includes(`127.0.0.1:${direct.port}`),
        "the remote served a tunnel to the direct destination",
      );
    });

    await t.step("PROXY goes through the remote", async () => {
      const got = await curl("-x", socks, `http://127.0.0.1:${proxied.port}/c`);
      assertEquals(text.decode(got.body), "proxied GET /c 0\n", got.stderr);
      await remote.program.waitFor(new RegExp(`-> 127\\.0\\.0\\.1:${proxied.port} `));
      await local!.program.waitFor(/route=proxy rule=MATCH,PROXY/);
    });

    await t.step("REJECT: SOCKS5 REP 0x02, HTTP 403 naming the rule, no tunnel", async () => {
      const { conn, rep } = await socksRequest(local!.port, { host: "x.ads.example", port: 80 });
      closeQuietly(conn);
      assertEquals(rep, 0x02, "REP: connection not allowed by ruleset");
      const forbidden = await curl(
        "-x",
        `http://${local!.address}`,
        "-w",
        "%{http_code}",
        "http://x.ads.example/page",
      );
      assertEquals(
        text.decode(forbidden.body),
        "403 Forbidden: refused by the rule DOMAIN-SUFFIX,ads.example,REJECT\n403",
      );
      const tunnel = await curl("-x", `http://${local!.address}`, "https://www.ads.example/");
      assertStringIncludes(tunnel.stderr, "403");
      assert(!remote.program.output.includes("ads.example"), "a tunnel to a rejected name");
    });

    await t.step(
      "UDP: DIRECT datagrams go out of the local, PROXY ones through the tunnel",
      async () => {
        const client = await SocksUdpClient.open(local!.port);
        try {
          const hello = new TextEncoder().encode("direct datagram");
          await client.send({ host: "127.0.0.1", port: directEcho.port }, hello);
          const back = await client.receive(5000);
          assertEquals(back?.source, { host: "127.0.0.1", port: directEcho.port });
          assertEquals(text.decode(back!.payload), "direct datagram");
          assert(!/UDP/.test(remote.program.output), "the remote saw a UDP association");
          await client.send({ host: "127.0.0.1", port: proxiedEcho.port }, hello);
          const through = await client.receive(5000);
          assertEquals(through?.source, { host: "127.0.0.1", port: proxiedEcho.port });
          assertEquals([directEcho.datagrams, proxiedEcho.datagrams], [1, 1]);
        } finally {
          client.close();
        }
        await remote.program.waitFor(
          new RegExp(`UDP first to 127\\.0\\.0\\.1:${proxiedEcho.port}`),
        );
        assert(
          !remote.program.output.includes(`:${directEcho.port}`),
          "the remote relayed a direct datagram",
        );
      },
    );

    await t.step("while the remote refuses the account, DIRECT still works", async () => {
      await remote.user("disable", "alice");
      // A refused tunnel teaches the local that the whole account is refused (the remote
      // picks the change up within a second); then it refuses proxied connections at once.
      const deadline = Date.now() + 15_000;
      for (let rep = 0; rep === 0;) {
        assert(Date.now() < deadline, "the local never learned that the account is refused");
        await curl("-x", socks, `http://127.0.0.1:${proxied.port}/d`);
        const known = await socksRequest(local!.port, { host: "127.0.0.1", port: proxied.port });
        closeQuietly(known.conn);
        rep = known.rep;
        if (rep === 0) await delay(200);
      }
      const got = await curl("-x", socks, `http://127.0.0.1:${direct.port}/e`);
      assertEquals(text.decode(got.body), "direct GET /e 0\n", got.stderr);
      await remote.user("enable", "alice");
    });

    await t.step("SIGHUP reloads the rules; a bad file keeps those in force", async () => {
      await Deno.writeTextFile(rulesPath, rules("REJECT"));
      local!.program.child.kill("SIGHUP");
      await local!.program.waitFor(/rules reloaded/);
      const { conn, rep } = await socksRequest(local!.port, {
        host: "127.0.0.1",
        port: direct.port,
      });
      closeQuietly(conn);
      assertEquals(rep, 0x02, "the reloaded rule rejects");
      await Deno.writeTextFile(rulesPath, "rules:\n  - MATCH,PROXY\n  - NOPE,x,DIRECT\n");
      local!.program.child.kill("SIGHUP");
      await local!.program.waitFor(/rules not reloaded.*line 3: unknown rule type "NOPE"/);
      const again = await socksRequest(local!.port, { host: "127.0.0.1", port: direct.port });
      closeQuietly(again.conn);
      assertEquals(again.rep, 0x02, "the rules in force stay after a bad reload");
    });

    await t.step(
      "--direct-country: private and loopback ranges go direct (GEOIP,LAN)",
      async () => {
        const lan = namedOrigin("lan");
        const country = await LocalFixture.start(remote, "alice", "alice-secret", [
          "--direct-country",
          "cn",
        ]);
        try {
          const got = await curl(
            "-x",
            `socks5h://${country.address}`,
            `http://127.0.0.1:${lan.port}/f`,
          );
          assertEquals(text.decode(got.body), "lan GET /f 0\n", got.stderr);
          await country.program.waitFor(/route=direct rule=GEOIP,LAN,DIRECT/);
          assert(!remote.program.output.includes(`:${lan.port}`), "a tunnel to a LAN address");
        } finally {
          await country.stop();
          await lan.close();
        }
      },
    );
  } finally {
    await local?.stop();
    await Promise.all([direct.close(), proxied.close(), directEcho.close(), proxiedEcho.close()]);
    await remote.stop();
  }
});

Deno.test("a bad rules file stops the start: exit 2 with the file, the line and the reason", async () => {
  const dir = await Deno.makeTempDir({ prefix: "swiftproxy-test-" });
  try {
    const path = `${dir}/rules.yaml`;
    await Deno.writeTextFile(
      path,
      "rules:\n  - DOMAIN,a.example,DIRECT\n  - IP-CIDR,10.0.0.0/33,DIRECT\n",
    );
    const args = [
      "--remote",
      "127.0.0.1:1",
      "--user",
      "alice",
      "--no-ui",
      "--config",
      `${dir}/l.json`,
    ];
    const bad = await runProgram(localArgs(...args, "--rules", path), {
      env: { SWIFTPROXY_PASSWORD: "alice-secret" },
    });
    assertEquals(bad.code, 2, bad.stderr);
    assertStringIncludes(bad.stderr, `${path}: line 3:`);
    assertStringIncludes(bad.stderr, "IP-CIDR,10.0.0.0/33,DIRECT");
    const country = await runProgram(localArgs(...args, "--direct-country", "China"), {
      env: { SWIFTPROXY_PASSWORD: "alice-secret" },
    });
    assertEquals(country.code, 2, country.stderr);
    assertStringIncludes(country.stderr, "--direct-country");
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("the settings file's rules apply as --rules does", async () => {
  const dir = await Deno.makeTempDir({ prefix: "swiftproxy-test-" });
  try {
    await Deno.writeTextFile(`${dir}/rules.yaml`, "rules:\n  - DOMAIN,ads.example,REJECT\n");
    const settingsPath = `${dir}/local.json`;
    await Deno.writeTextFile(
      settingsPath,
      JSON.stringify({ remote: "127.0.0.1:1", user: "alice", rules: `${dir}/rules.yaml` }),
    );
    const { program, port } = await spawnLocal(["--no-ui", "--config", settingsPath]);
    try {
      const { conn, rep } = await socksRequest(port, { host: "ads.example", port: 443 });
      closeQuietly(conn);
      assertEquals(rep, 0x02, "the settings file's rule rejects");
    } finally {
      await program.stop();
    }
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
