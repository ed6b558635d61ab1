/**
 * A rule-provider by URL through the real path: fetched through the tunnel (the remote's access
 * log shows it), put in force, kept on disk beside the rules file, used again by a local
 * started while the remote is down; a failed fetch (the remote stopped, or an https server
 * whose certificate is not trusted) is logged once and keeps the last good copy.
 */
import { assert, assertEquals } from "../_assert.ts";
import { delay, LocalFixture, RemoteFixture } from "../_harness.ts";
import { closeQuietly, socksRequest } from "../e2e/_e2e.ts";

Deno.test("a rule-provider by URL is fetched through the tunnel, kept on disk and used with the remote down", async () => {
  const remote = await RemoteFixture.start();
  let fetches = 0;
  const origin = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen() {} }, () => {
    fetches++;
    return new Response("DOMAIN-SUFFIX,fetched.example\n");
  });
  // An https server whose certificate (the remote's self-signed one) no system root trusts.
  const untrusted = Deno.serve({
    hostname: "127.0.0.1",
    port: 0,
    onListen() {},
    cert: await Deno.readTextFile(remote.certPath),
    key: await Deno.readTextFile(`${remote.dir}/tls/key.pem`),
  }, () => new Response("DOMAIN-SUFFIX,untrusted.example\n"));
  const rulesPath = `${remote.dir}/rules/rules.yaml`;
  await Deno.mkdir(`${remote.dir}/rules`);
  await Deno.writeTextFile(
    rulesPath,
    [
      "rule-providers:",
      "  remote-set:",
      "    type: http",
      "    behavior: classical",
      "    format: text",
      `    url: http://127.0.0.1:${origin.addr.port}/set.txt`,
      "    interval: 1",
      "  untrusted-set:",
      "    type: http",
      "    behavior: classical",
      "    format: text",
      `    url: https://localhost:${untrusted.addr.port}/set.txt`,
      "    interval: 3600",
      "rules:",
      "  - RULE-SET,remote-set,REJECT",
      "  - RULE-SET,untrusted-set,REJECT",
      "  - MATCH,PROXY",
      "",
    ].join("\n"),
  );
  const args = ["--rules", rulesPath];
  let local: LocalFixture | undefined;
  const rep = async (host: string) => {
    const { conn, rep } = await socksRequest(local!.port, { host, port: 80 });
    closeQuietly(conn);
    return rep;
  };
  try {
    local = await LocalFixture.start(remote, "alice", "alice-secret", args);
    await local.program.waitFor(/rule-provider remote-set: fetched/);
    await remote.program.waitFor(new RegExp(`-> 127\\.0\\.0\\.1:${origin.addr.port} `));
    assertEquals(await rep("www.fetched.example"), 0x02, "the fetched rule-set rejects");
    const kept = await Deno.readTextFile(`${remote.dir}/rules/rule-providers/remote-set.txt`);
    assertEquals(kept, "DOMAIN-SUFFIX,fetched.example\n");
    await local.program.waitFor(/rule-provider untrusted-set: cannot fetch https:\/\/localhost/);
    assert(/certificate/i.test(local.program.output), local.program.output);

    // The remote goes away: fetches fail, logged once, and the kept rules stay in force.
    await remote.program.stop();
    await local.program.waitFor(/rule-provider remote-set: cannot fetch/);
    const before = fetches;
    await delay(2500);
    const failures = local.program.output.match(/rule-provider remote-set: cannot fetch/g);
    assertEquals(failures?.length, 1, "one line for a provider that keeps failing");
    assertEquals(fetches, before, "no fetch reached the origin without the tunnel");
    assertEquals(await rep("www.fetched.example"), 0x02, "the last good copy");

    // A new local, the remote still down: the kept copy is in force at once.
    await local.stop();
    local = await LocalFixture.start(remote, "alice", "alice-secret", args);
    assertEquals(await rep("a.fetched.example"), 0x02, "the copy kept on disk");
  } finally {
    await local?.stop();
    await Promise.all([origin.shutdown(), untrusted.shutdown()]);
    await remote.stop();
  }
});
