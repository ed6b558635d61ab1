/**
 * `swiftproxy-local --sub URL` against a real remote with client rules: one URL sets up the
 * link (remote, user, password, pin) and writes the admin's rules where the local loads them;
 * a download through it is byte-exact; a wrong pin or a revoked URL stops the start with the
 * reason; a refresh after the password changed brings the new link.
 */
import { assert, assertEquals } from "../_assert.ts";
import {
  curl,
  freePort,
  localArgs,
  Program,
  randomBytes,
  RemoteFixture,
  runProgram,
  sha256,
  startOrigin,
} from "../_harness.ts";
import { newLink } from "../remote/_share.ts";
import { closeQuietly, socksRequest } from "./_e2e.ts";
import { parseShareLink } from "../../lib/protocol/share_link.ts";
import { loadRules } from "../../lib/rules/mod.ts";
import { SubscriptionRefresh, takeSubscription } from "../../lib/local/control/subscription.ts";
import { parseSubscriptionUrl } from "../../lib/local/tunnel/subscription_fetch.ts";

const SIZE = 2 * 1024 * 1024 + 5;

const RULES = `rule-providers:
  ads: { type: file, behavior: domain, path: ads.txt }
rules:
  - RULE-SET,ads,REJECT
  - GEOIP,LAN,DIRECT
  - MATCH,PROXY
`;

async function remoteWithRules(): Promise<RemoteFixture> {
  const dir = await Deno.makeTempDir({ prefix: "rules-sub-" });
  await Deno.writeTextFile(`${dir}/ads.txt`, "+.ads.example\n");
  await Deno.writeTextFile(`${dir}/client.yaml`, RULES);
  return await RemoteFixture.start({}, ["--client-rules", `${dir}/client.yaml`]);
}

Deno.test("--sub sets up the local in one step: a download byte-exact, the rules where the local loads them", async () => {
  const origin = startOrigin();
  const remote = await remoteWithRules();
  const state = await Deno.makeTempDir({ prefix: "rules-sub-state-" });
  try {
    await remote.user("add", "alice", "--password", "alice-first-secret");
    const printed = await newLink(remote, "alice");
    const url = printed.localSubscription!;
    assert(/#pcs=[0-9a-f]{64}$/.test(url), url);
    const { password } = parseShareLink(printed.link);

    const port = freePort();
    const local = new Program(
      localArgs("--listen", `127.0.0.1:${port}`, "--no-ui", "--config", `${state}/local.json`),
      { env: { SWIFTPROXY_SUB: url, HOME: state } },
    );
    try {
      await local.waitFor(/proxy on/, 40_000);
      const want = await sha256(randomBytes(SIZE));
      const out = await curl(
        "--socks5-hostname",
        `127.0.0.1:${port}`,
        `http://127.0.0.1:${origin.port}/bytes/${SIZE}`,
      );
      assertEquals([out.code, out.body.length, await sha256(out.body)], [0, SIZE, want]);
      // The subscription's rules are in force: its REJECT is SOCKS5 REP 0x02, its
      // GEOIP,LAN,DIRECT sent the download above straight to the loopback origin.
      const { conn, rep } = await socksRequest(port, { host: "x.ads.example", port: 443 });
      closeQuietly(conn);
      assertEquals(rep, 0x02, "the subscription's REJECT rule");
      await local.waitFor(/route=direct rule=GEOIP,LAN,DIRECT/);
    } finally {
      await local.stop();
    }
    assert(/subscription taken: alice@127\.0\.0\.1, 3 rule\(s\)/.test(local.output), local.output);
    assert(!local.output.includes(password), "the password is never printed");
    assert(!local.output.includes(url.split("/sub/")[1]!.split("#")[0]!), "nor the token");

    // The rules file the subscription brought loads as a --rules file does.
    const { engine } = await loadRules(`${state}/subscription/rules.yaml`);
    const decide = async (host: string) =>
      (await engine.decide({ host, port: 443, network: "tcp" })).rule;
    assertEquals(await decide("x.ads.example"), "RULE-SET,ads,REJECT");
    assertEquals(await decide("192.168.1.1"), "GEOIP,LAN,DIRECT");
    assertEquals(await decide("example.org"), "MATCH,PROXY");
    assertEquals((await Deno.stat(`${state}/subscription/rules.yaml`)).mode! & 0o777, 0o600);
  } finally {
    await remote.stop();
    await origin.close();
    await Deno.remove(state, { recursive: true });
  }
});

Deno.test("--sub refuses a wrong pin and a revoked URL with the reason; a refresh brings a new password", async () => {
  const remote = await remoteWithRules();
  const state = await Deno.makeTempDir({ prefix: "rules-sub-state-" });
  const start = (url: string) =>
    runProgram(
      localArgs(
        "--listen",
        `127.0.0.1:${freePort()}`,
        "--no-ui",
        "--config",
        `${state}/local.json`,
        "--sub",
        url,
      ),
      { env: { HOME: state } },
    );
  try {
    await remote.user("add", "alice", "--password", "alice-first-secret");
    const url = (await newLink(remote, "alice")).localSubscription!;
    const pin = /pcs=([0-9a-f]+)/.exec(url)![1]!;
    const wrong = url.replace(pin, (pin[0] === "0" ? "1" : "0") + pin.slice(1));
    const refused = await start(wrong);
    assertEquals(refused.code, 1);
    assert(/cannot take the subscription: .*not the pinned/.test(refused.stderr), refused.stderr);
    const noPin = await start(url.replace(/#.*/, ""));
    assertEquals(noPin.code, 1, "a self-signed certificate without the pin is not trusted");
    const both = await runProgram(
      localArgs("--no-ui", "--config", `${state}/local.json`, "--sub", url),
      { env: { HOME: state, SWIFTPROXY_LINK: "trojan://a%3Ab@127.0.0.1:1" } },
    );
    assertEquals(both.code, 2);
    assert(/'--link' and '--sub'/.test(both.stderr), both.stderr);
    const bad = await start("http://127.0.0.1:1/sub/x");
    assertEquals(bad.code, 2);
    assert(/option '--sub <url>': expected an https:\/\//.test(bad.stderr), bad.stderr);

    // In process: taken, then the password changes (a new link revokes the old URL too).
    const taken = await takeSubscription(url, state, 10_000);
    const refresh = new SubscriptionRefresh(
      parseSubscriptionUrl(url),
      state,
      taken,
      10_000,
    );
    let changed = "";
    refresh.changed = (next, before) => {
      changed = next.link.password !== before.link.password ? "password" : "other";
    };
    assertEquals(await refresh.refresh(), false, "nothing changed yet");
    const fresh = await newLink(remote, "alice");
    assertEquals(await refresh.refresh(), false, "the old URL is revoked: kept the last one");
    const revoked = await start(url);
    assertEquals(revoked.code, 1);
    assert(/closed without an answer/.test(revoked.stderr), revoked.stderr);
    const renewed = new SubscriptionRefresh(
      parseSubscriptionUrl(
        fresh.localSubscription!,
      ),
      state,
      taken,
      10_000,
    );
    renewed.changed = (next, before, rulesChanged) => {
      changed = next.link.password !== before.link.password ? "password" : "other";
      if (rulesChanged) changed += " and rules";
    };
    assertEquals(await renewed.refresh(), true);
    assertEquals(changed, "password");
    assertEquals(renewed.last.link.password, parseShareLink(fresh.link).password);
  } finally {
    await remote.stop();
    await Deno.remove(state, { recursive: true });
  }
});
