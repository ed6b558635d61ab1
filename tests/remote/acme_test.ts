/**
 * `serve --acme` against a real ACME server on loopback (Debian's pebble, tests/remote/_pebble.ts):
 * a certificate issued over TLS-ALPN-01 on the tunnel port and over HTTP-01 on --acme-http,
 * served with pebble's chain; renewed at two thirds of a short lifetime with a download running
 * across the swap; a failed issuance leaving the self-signed certificate serving; and links,
 * subscriptions and a local that trust the issued certificate through the CA's root alone.
 */
import { assert, assertEquals } from "../_assert.ts";
import {
  curl,
  freePort,
  has,
  randomBytes,
  remoteArgs,
  runProgram,
  sha256,
  spawnLocal,
  startOrigin,
} from "../_harness.ts";
import { printedShare } from "./_share.ts";
import { startPebble } from "./_pebble.ts";
import { acmeRemote, pemSha256, servedCertificate } from "./_acme.ts";

Deno.test({
  name: "serve --acme gets, serves and renews a certificate from a real ACME server",
  ignore: !has("pebble") || !has("pebble-challtestsrv"),
  async fn(t) {
    const tunnelA = freePort();
    const httpA = freePort();
    // 15 s certificates: renewal comes about 10 s after issuance. Pebble checks HTTP-01 on
    // httpA for every name (its stand-in for port 80).
    const pebble = await startPebble({ tlsPort: tunnelA, httpPort: httpA, validitySeconds: 15 });
    const acme = (name: string, http: number) => [
      "--acme",
      name,
      "--acme-directory",
      pebble.directory,
      "--acme-ca",
      pebble.httpsCaPath,
      "--acme-http",
      `127.0.0.1:${http}`,
    ];
    const origin = startOrigin();
    const a = await acmeRemote(tunnelA, acme("a.swiftproxy.test", httpA));
    // C answers on a port the CA does not ask: there A's answerer knows nothing of C's token,
    // as when the name's DNS points to another server.
    const c = await acmeRemote(freePort(), acme("c.swiftproxy.test", freePort()));
    try {
      let first = "";
      await t.step("HTTP-01 on --acme-http: issued, served with pebble's chain", async () => {
        await a.program.waitFor(/certificate issued for a\.swiftproxy\.test/, 20_000);
        await a.program.waitFor(/reloaded the certificate: .*acme\/cert\.pem/);
        const served = await servedCertificate(tunnelA, "a.swiftproxy.test", pebble.root);
        assert(served.authorized, "the chain verifies against pebble's root alone");
        assert(/Pebble Intermediate/.test(served.issuer), served.issuer);
        assertEquals(served.fingerprint, await pemSha256(`${a.dir}/acme/cert.pem`));
        first = served.fingerprint;
      });

      await t.step(
        "a failed issuance says what to check; the self-signed one keeps serving",
        async () => {
          const line = await c.program.waitFor(
            /certificate for c\.swiftproxy\.test not issued.*/,
            20_000,
          );
          assert(/check: another server answered the challenge/.test(line[0]), line[0]);
          assert(/self-signed certificate keeps serving; next try in \d+ s/.test(line[0]), line[0]);
          const served = await servedCertificate(c.port, "c.swiftproxy.test");
          assertEquals(served.fingerprint, await pemSha256(`${c.dir}/tls/cert.pem`));
        },
      );

      await t.step("renewed when due, a download running byte-exact across the swap", async () => {
        // The local trusts the issued certificate through pebble's root alone: no pin.
        const local = await spawnLocal([
          "--remote",
          `127.0.0.1:${tunnelA}`,
          "--user",
          "alice",
          "--ca",
          pebble.rootPath,
          "--server-name",
          "a.swiftproxy.test",
          "--no-ui",
          "--config",
          `${a.dir}/local.json`,
        ]);
        try {
          const size = 12 * 1024 * 1024;
          const issued = a.program.output.match(/certificate issued/g)!.length;
          const download = curl(
            "-x",
            `socks5h://127.0.0.1:${local.port}`,
            `http://127.0.0.1:${origin.port}/bytes/${size}`,
          );
          let finished = false;
          download.then(() => finished = true);
          await a.program.waitFor(new RegExp(`(certificate issued[^]*){${issued + 1}}`), 20_000);
          await a.program.waitFor(/(reloaded the certificate[^]*){2}/);
          assert(!finished, "the download was still running at the swap");
          const renewed = await servedCertificate(tunnelA, "a.swiftproxy.test", pebble.root);
          assert(renewed.authorized, "the renewed chain verifies");
          assert(renewed.fingerprint !== first, "new connections get the renewed certificate");
          const result = await download;
          assertEquals(result.code, 0, result.stderr);
          assertEquals(result.body.length, size);
          assertEquals(await sha256(result.body), await sha256(randomBytes(size)));
        } finally {
          await local.program.stop();
        }
      });

      await t.step(
        "links and subscriptions carry the name, no pin; clients verify as usual",
        async () => {
          const out = await runProgram(remoteArgs(
            "user",
            "link",
            "alice",
            "--new-password",
            "--port",
            String(tunnelA),
            "--data",
            a.dir,
          ));
          assertEquals(out.code, 0, out.stderr);
          const printed = printedShare(out.stdout);
          assert(printed.link.includes("@a.swiftproxy.test:"), printed.link);
          assert(printed.link.includes("sni=a.swiftproxy.test"), printed.link);
          assert(!printed.link.includes("pcs="), printed.link);
          await new Promise((resolve) => setTimeout(resolve, 1_000));
          const resolve = [
            "--resolve",
            `a.swiftproxy.test:${tunnelA}:127.0.0.1`,
            "--cacert",
            pebble.rootPath,
          ];
          const clash = await curl(...resolve, `${printed.subscription!}/clash`);
          const yaml = new TextDecoder().decode(clash.body);
          assertEquals(clash.code, 0, clash.stderr);
          assert(/sni: "a\.swiftproxy\.test"/.test(yaml) && !/fingerprint/.test(yaml), yaml);
          assert(/skip-cert-verify: false/.test(yaml), yaml);
          const singbox = await curl(...resolve, `${printed.subscription!}/singbox`);
          const profile = JSON.parse(new TextDecoder().decode(singbox.body));
          assertEquals(profile.outbounds[0].tls, {
            enabled: true,
            server_name: "a.swiftproxy.test",
          });
        },
      );
    } finally {
      await Promise.all([a.stop(), c.stop()]);
      await origin.close();
      await pebble.stop();
    }
  },
});
