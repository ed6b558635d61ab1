/**
 * Where links point, through the real CLI: `init --san localhost` and `serve --listen
 * 127.0.0.1:PORT` make `user add` print a link to 127.0.0.1:PORT (said to be a guess), not
 * the host name and port 8443; `init --public` sets it; `user link NAME` prints the same link
 * and subscription URL again without the password; the subscription's `server:` is the public
 * address whatever Host header the request carries.
 */
import { parse as parseYaml } from "yaml";
import { assert, assertEquals } from "../_assert.ts";
import { curl, freePort, Program, remoteArgs, runProgram } from "../_harness.ts";
import { parseShareLink } from "../../lib/protocol/share_link.ts";
import { printedShare } from "./_share.ts";

Deno.test("links point where serve listens (a guess, said so), init --public sets them, user link reprints without the password", async () => {
  const dir = await Deno.makeTempDir({ prefix: "swiftproxy-public-" });
  const port = freePort();
  const remote = (...args: string[]) => runProgram(remoteArgs(...args, "--data", dir));
  const serve = () =>
    new Program(remoteArgs("serve", "--data", dir, "--listen", `127.0.0.1:${port}`));
  let server: Program | undefined;
  try {
    const init = await remote("init", "--san", "localhost");
    assertEquals(init.code, 0, init.stderr);
    assert(/public address: not set/.test(init.stdout), init.stdout);
    server = serve();
    await server.waitFor(/listening on/);
    await server.waitFor(/links and subscriptions point to/);
    assert(
      server.output.includes(`links and subscriptions point to 127.0.0.1:${port}, a GUESS`),
      server.output,
    );

    const added = await remote("user", "add", "bob");
    assertEquals(added.code, 0, added.stderr);
    const first = printedShare(added.stdout);
    const link = parseShareLink(first.link);
    assertEquals([link.host, link.port, link.user], ["127.0.0.1", port, "bob"]);
    assert(/point to 127\.0\.0\.1:\d+, a GUESS/.test(added.stdout), added.stdout);
    assert(added.stdout.includes("init --public HOST:PORT"), "says how to set it");

    // The subscription's server is the public address, not what the request's Host says.
    const sub = await curl(
      "--cacert",
      `${dir}/tls/cert.pem`,
      "-H",
      "Host: evil.example:1",
      `${first.subscription!}/clash`,
    );
    assertEquals(sub.code, 0, sub.stderr);
    const proxy = (parseYaml(new TextDecoder().decode(sub.body)) as {
      proxies: Record<string, unknown>[];
    }).proxies[0]!;
    assertEquals([proxy.server, proxy.port], ["127.0.0.1", port]);

    // Reprinted without the password: the same link and the same subscription URL.
    const again = await remote("user", "link", "bob");
    assertEquals(again.code, 0, again.stderr);
    assertEquals(printedShare(again.stdout), first);
    const key = await Deno.stat(`${dir}/link.key`);
    assertEquals(key.mode! & 0o777, 0o600, "the server's link key is private");
    assert(!Deno.readTextFileSync(`${dir}/links/bob.sealed`).includes(link.password));

    // Set by init --public: no longer a guess; the link points there.
    const set = await remote("init", "--public", "vpn.example.org:443");
    assertEquals(set.code, 0, set.stderr);
    assert(set.stdout.includes("links and subscriptions point to vpn.example.org:443"));
    const moved = await remote("user", "link", "bob");
    assertEquals(moved.code, 0, moved.stderr);
    const there = parseShareLink(printedShare(moved.stdout).link);
    assertEquals([there.host, there.port, there.password], ["vpn.example.org", 443, link.password]);
    assert(!moved.stdout.includes("GUESS"), moved.stdout);
    const wildcard = await remote("init", "--public", "0.0.0.0:443");
    assertEquals(wildcard.code, 2, "a wildcard is no address to dial");

    // A password chosen by the admin is not printed, but user link prints its link later.
    const changed = await runProgram(remoteArgs("user", "passwd", "bob", "--data", dir), {
      env: { SWIFTPROXY_PASSWORD: "bob-chosen-secret" },
    });
    assertEquals(changed.code, 0, changed.stderr);
    assert(!changed.stdout.includes("bob-chosen-secret"), changed.stdout);
    const later = await remote("user", "link", "bob");
    assertEquals(later.code, 0, later.stderr);
    assertEquals(parseShareLink(printedShare(later.stdout).link).password, "bob-chosen-secret");

    // Removed: nothing kept; a user made elsewhere gets a clear refusal, not a wrong link.
    assertEquals((await remote("user", "remove", "bob")).code, 0);
    assert(!(await exists(`${dir}/links/bob.sealed`)), "the removed user's link is forgotten");
    assertEquals((await remote("user", "add", "carol", "--password", "carol-secret-1")).code, 0);
    Deno.removeSync(`${dir}/links/carol.sealed`);
    const none = await remote("user", "link", "carol");
    assertEquals(none.code, 1);
    assert(/keeps no current link for carol/.test(none.stderr), none.stderr);
  } finally {
    await server?.stop();
    await Deno.remove(dir, { recursive: true });
  }
});

async function exists(path: string): Promise<boolean> {
  try {
    await Deno.stat(path);
    return true;
  } catch {
    return false;
  }
}
