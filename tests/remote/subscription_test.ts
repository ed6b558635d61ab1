/**
 * Subscriptions on the tunnel port, against a real remote: the three formats carry the right
 * server, port, password and pin; the usage header matches the database; every other path, a
 * wrong or revoked token and a throttled source get the fallback site, which never sees a
 * real token.
 */
import { parse as parseYaml } from "yaml";
import { assert, assertEquals } from "../_assert.ts";
import { curl, RemoteFixture, runProgram, spawnLocal, startOrigin } from "../_harness.ts";
import { remoteArgs } from "../_harness.ts";
import { startFallbackSite } from "../hardening/_helpers.ts";
import { parseShareLink } from "../../lib/protocol/share_link.ts";
import { fetchFrom, newLink, pemSha256 } from "./_share.ts";

Deno.test("a subscription carries server, port, password and pin as base64, Clash YAML and sing-box JSON", async () => {
  const site = startFallbackSite();
  const remote = await RemoteFixture.start({}, ["--fallback", `127.0.0.1:${site.port}`]);
  try {
    await remote.user("add", "alice", "--password", "alice-first-secret");
    const printed = await newLink(remote, "alice");
    const link = parseShareLink(printed.link);
    const pin = await pemSha256(await Deno.readTextFile(remote.certPath));
    assertEquals(
      [link.user, link.host, link.port, link.pin],
      ["alice", "127.0.0.1", remote.port, pin],
    );
    assert(printed.link.includes("allowInsecure=0") && !printed.link.includes("allowInsecure=1"));
    const url = printed.subscription!;
    assertEquals(url.replace(/[^/]+$/, ""), `https://127.0.0.1:${remote.port}/sub/`);

    const plain = await fetchFrom(remote, url);
    assertEquals(plain.status, 200);
    const listed = new TextDecoder().decode(
      Uint8Array.from(atob(plain.body), (c) => c.charCodeAt(0)),
    ).trim();
    assertEquals(parseShareLink(listed), link, "the base64 list holds the same link");

    for (
      const [how, target, headers] of [
        ["path suffix", `${url}/clash`, {}],
        ["User-Agent", url, { "user-agent": "clash.meta/v1.19.0" }],
      ] as const
    ) {
      const clash = await fetchFrom(remote, target, headers);
      assertEquals(clash.status, 200, how);
      const config = parseYaml(clash.body) as { proxies: Record<string, unknown>[] };
      const proxy = config.proxies[0]!;
      assertEquals(
        [proxy.type, proxy.server, proxy.port, proxy.password, proxy.fingerprint, proxy.sni],
        ["trojan", "127.0.0.1", remote.port, `alice:${link.password}`, pin, link.sni],
        how,
      );
      assertEquals(proxy["skip-cert-verify"], false, how);
      assertEquals(proxy.udp, true, `${how}: the server relays UDP`);
    }

    for (
      const [how, target, headers] of [
        ["path suffix", `${url}/singbox`, {}],
        ["User-Agent", url, { "user-agent": "SFA/1.11.4 (sing-box 1.11.4)" }],
      ] as const
    ) {
      const singbox = await fetchFrom(remote, target, headers);
      assertEquals(singbox.status, 200, how);
      const outbound = JSON.parse(singbox.body).outbounds[0];
      assertEquals(
        [outbound.type, outbound.server, outbound.server_port, outbound.password],
        ["trojan", "127.0.0.1", remote.port, `alice:${link.password}`],
        how,
      );
      assertEquals(outbound.tls.enabled, true);
      assertEquals(outbound.network, undefined, `${how}: TCP and UDP (sing-box's default)`);
      assertEquals(await pemSha256(outbound.tls.certificate.join("\n")), pin, "the pinned leaf");
    }
    assertEquals(site.received.length, 0, "no subscription request reached the fallback site");
  } finally {
    await remote.stop();
    site.close();
  }
});

Deno.test("the subscription-userinfo header's numbers are the database's", async () => {
  const origin = startOrigin();
  const remote = await RemoteFixture.start();
  try {
    await remote.user("set", "alice", "--quota", "3GiB", "--expires", "2031-06-30");
    const printed = await newLink(remote, "alice");
    const { password } = parseShareLink(printed.link);
    const local = await spawnLocal(
      ["--remote", remote.address, "--user", "alice", "--ca", remote.certPath, "--no-ui"],
      password,
    );
    try {
      const url = `http://127.0.0.1:${origin.port}/bytes/300000`;
      assertEquals(
        (await curl("-x", `socks5h://127.0.0.1:${local.port}`, url, "-o", "/dev/null")).code,
        0,
      );
    } finally {
      await local.program.stop();
    }
    // Usage reaches the database within a second; wait until it stops moving.
    let row: Record<string, unknown> = {};
    for (let i = 0, last = ""; i < 50; i++) {
      const out = await runProgram(remoteArgs("user", "list", "--json", "--data", remote.dir));
      row = JSON.parse(out.stdout)[0];
      const now = `${row.bytesUp}/${row.bytesDown}`;
      if (now === last && Number(row.bytesDown) >= 300000) break;
      last = now;
      await new Promise((r) => setTimeout(r, 300));
    }
    const reply = await fetchFrom(remote, printed.subscription!);
    const expire = Math.floor(Date.parse(row.expiresAt as string) / 1000);
    assertEquals(
      reply.headers.get("subscription-userinfo"),
      `upload=${row.bytesUp}; download=${row.bytesDown}; total=${3 * 2 ** 30}; expire=${expire}`,
    );
    assert(Number(row.bytesDown) >= 300000, `counted ${row.bytesDown}`);
  } finally {
    await remote.stop();
    await origin.close();
  }
});

Deno.test("other paths, wrong and revoked tokens get the fallback site; wrong tokens are throttled", async () => {
  const site = startFallbackSite();
  const remote = await RemoteFixture.start({ alice: "alice-secret" }, [
    "--fallback",
    `127.0.0.1:${site.port}`,
    "--auth-limit",
    "3",
  ]);
  const nginx = /Welcome to nginx/;
  const base = `https://127.0.0.1:${remote.port}`;
  try {
    const { password } = parseShareLink((await newLink(remote, "alice")).link);
    const probe = await fetchFrom(remote, `${base}/`);
    assert(nginx.test(probe.body), `/ is the site: ${probe.body}`);
    assertEquals(probe.headers.get("subscription-userinfo"), null);
    assert(nginx.test((await fetchFrom(remote, `${base}/subscribe`)).body), "/subscribe");

    // --rotate (with the current password) revokes the old URL and issues a new one.
    const old = (await newLink(remote, "alice")).subscription!;
    const rotated = await runProgram(
      remoteArgs("user", "link", "alice", "--rotate", "--data", remote.dir, "--host", "127.0.0.1"),
      { env: { SWIFTPROXY_PASSWORD: "unused-here" } },
    );
    assertEquals(rotated.code, 1, "the wrong current password is refused");
    const current = parseShareLink((await newLink(remote, "alice")).link).password;
    assert(current !== password);
    const fresh = await runProgram(
      remoteArgs("user", "link", "alice", "--rotate", "--data", remote.dir, "--host", "127.0.0.1"),
      { env: { SWIFTPROXY_PASSWORD: current } },
    );
    assertEquals(fresh.code, 0, fresh.stderr);
    const token = /\/sub\/(\S+)/.exec(fresh.stdout)![1]!;
    const revoked = await fetchFrom(remote, old);
    assert(nginx.test(revoked.body), "a revoked token gets the site");
    assert(nginx.test((await fetchFrom(remote, `${base}/sub/${"x".repeat(43)}`)).body));

    // Past three failures (the revoked token and the wrong one above, two more) the source
    // cools off, and now even the right token gets the site.
    for (const wrong of ["wrong", "wrong-again"]) {
      assert(nginx.test((await fetchFrom(remote, `${base}/sub/${wrong}`)).body));
    }
    await remote.program.waitFor(/failed logins within/, 5_000);
    const throttled = await fetchFrom(remote, `${base}/sub/${token}`);
    assert(nginx.test(throttled.body), "a throttled source gets the site");
    const seen = site.received.map((bytes) => new TextDecoder().decode(bytes)).join("\n");
    assert(!seen.includes(token), "the site never saw the real token");
    assert(seen.includes("GET /sub/"), "the site saw the requests, tokens scrubbed");
    await remote.program.waitFor(/wrong subscription token/, 5_000);
    assert(!remote.program.output.includes(token), "the token is never logged");
  } finally {
    await remote.stop();
    site.close();
  }
});
