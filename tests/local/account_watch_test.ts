/**
 * A local started from the command line that cannot work says why, once, at `warning`, and
 * starts anyway: a wrong password, an untrusted certificate, a remote that is down, a server
 * that is not a SwiftProxy remote. A login that stops working later is said once too.
 */
import { assert, assertEquals } from "../_assert.ts";
import { curl, delay, freePort, spawnLocal, startOrigin } from "../_harness.ts";
import type { Program } from "../_harness.ts";
import { InProcessRemote } from "../_inprocess.ts";
import { adoptAll, closeQuietly, makeCertificates, quietLocalArgs } from "../e2e/_e2e.ts";

/** Starts a local on `remote` as alice with `password`, and waits until it listens. */
function startLocal(remote: string, password: string, extra: string[], dir: string) {
  const args = ["--remote", remote, "--user", "alice", "--preconnect", "0", ...extra];
  return spawnLocal([...args, ...quietLocalArgs(dir)], password);
}

/** A TLS server that answers every connection like a web site that did not understand it. */
function webSite(cert: string, key: string): { port: number; close(): void } {
  const listener = Deno.listenTls({ hostname: "127.0.0.1", port: 0, cert, key });
  (async () => {
    for await (const conn of listener) {
      (async () => {
        await conn.read(new Uint8Array(4096)).catch(() => null);
        await conn.write(new TextEncoder().encode("HTTP/1.1 400 Bad Request\r\n\r\n"))
          .catch(() => 0);
        closeQuietly(conn);
      })();
    }
  })().catch(() => {});
  return { port: listener.addr.port, close: () => listener.close() };
}

const warnings = (output: string) => output.split("\n").filter((line) => line.includes("[WRN]"));

Deno.test("the local says at start why it cannot work, once, and listens anyway", async (t) => {
  await using cleanup = new AsyncDisposableStack();
  const remote = cleanup.adopt(await InProcessRemote.start(), (r) => r.stop());
  const dir = remote.dir;
  const certs = await makeCertificates(dir);
  const site = cleanup.adopt(
    webSite(await Deno.readTextFile(certs.cert), await Deno.readTextFile(certs.key)),
    (s) => s.close(),
  );
  const ca = ["--ca", remote.certPath];
  const [right, wrong, untrusted, down, notOurs] = await adoptAll(cleanup, [
    startLocal(remote.address, "alice-secret", ca, `${dir}/right`),
    startLocal(remote.address, "not-alice-secret", ca, `${dir}/wrong`),
    startLocal(remote.address, "alice-secret", [], `${dir}/untrusted`),
    startLocal(`127.0.0.1:${freePort()}`, "alice-secret", ca, `${dir}/down`),
    startLocal(`127.0.0.1:${site.port}`, "alice-secret", ["--ca", certs.caCert], `${dir}/site`),
  ], (local) => local.program.stop());

  const cases: [string, Program, RegExp][] = [
    ["a wrong password", wrong.program, /Login refused by 127\.0\.0\.1:\d+.*Check --user/],
    [
      "no --ca for a self-signed remote",
      untrusted.program,
      /Certificate not trusted: .*--ca FILE .*fingerprint/,
    ],
    ["a remote that is down", down.program, /Remote unreachable: .*may come up later/],
    ["a web site, not a remote", notOurs.program, /Not a SwiftProxy remote: /],
  ];
  for (const [name, program, cause] of cases) {
    await t.step(`${name}: one warning with the cause, and still listening`, async () => {
      await program.waitFor(/\[WRN\].*The proxy listens anyway/);
      const lines = warnings(program.output);
      assertEquals(lines.length, 1, program.output);
      assert(cause.test(lines[0]!), lines[0]);
      assert(!program.output.includes("alice-secret"), "the password was logged");
      assertEquals(
        await Promise.race([program.status.then(() => "exited"), "running"]),
        "running",
      );
    });
  }

  await t.step("the right login: logged in, no warning", async () => {
    await right.program.waitFor(/logged in to 127\.0\.0\.1:\d+ as alice/);
    assertEquals(warnings(right.program.output), []);
  });

  await t.step("a login that stops working later is said once, in words", async () => {
    const origin = cleanup.adopt(startOrigin(), (o) => o.close());
    const url = `http://127.0.0.1:${origin.port}/`;
    const proxy = ["--socks5-hostname", `127.0.0.1:${right.port}`];
    assertEquals((await curl(...proxy, url)).code, 0);
    await remote.user("passwd", "alice", "--password", "alice-new-secret");
    // The remote picks the change up within a second; until then the old login works.
    await delay(1_200);
    const failed = await curl(...proxy, url);
    assert(failed.code !== 0, "curl got through with the old password");
    const said = /\[WRN\].*tunnels to 127\.0\.0\.1:\d+ fail: Login refused/;
    await right.program.waitFor(said, 10_000);
    assert((await curl(...proxy, url)).code !== 0);
    await delay(1_000);
    const lines = warnings(right.program.output).filter((line) => said.test(line));
    assertEquals(lines.length, 1, right.program.output);
    assert(!right.program.output.includes("alice-new-secret"), "a password was logged");
  });
});
