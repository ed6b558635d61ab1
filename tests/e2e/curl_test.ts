/**
 * Real `curl` through the whole chain (curl → local → TLS tunnel → remote → origin): SOCKS5
 * with a domain and an IPv4 literal, HTTP forwarding and CONNECT, an IPv6 origin, and
 * 64 MiB each way with the SHA-256 checked at both ends.
 */
import { assert, assertEquals } from "../_assert.ts";
import { curl, randomBytes, sha256, startOrigin } from "../_harness.ts";
import { assertSameBytes, eventually, makeCertificates, startQuietChain } from "./_e2e.ts";
import { trojanToken } from "../../lib/protocol/trojan.ts";

const decoder = new TextDecoder();
const MiB = 1024 * 1024;

Deno.test("curl through the whole chain", async (t) => {
  const chain = await startQuietChain();
  const origin = startOrigin("127.0.0.1");
  const origin6 = startOrigin("::1");
  const dir = await Deno.makeTempDir({ prefix: "swiftproxy-e2e-curl-" });
  const socks = chain.local.address;
  try {
    await t.step("--socks5-hostname with a domain (localhost)", async () => {
      const out = await curl("--socks5-hostname", socks, `http://localhost:${origin.port}/`);
      assertEquals(out.code, 0, out.stderr);
      assertEquals(decoder.decode(out.body), "origin 127.0.0.1 says hello\n");
    });

    await t.step("--socks5 with an IPv4 literal", async () => {
      const out = await curl("--socks5", socks, `http://127.0.0.1:${origin.port}/bytes/100000`);
      assertEquals(out.code, 0, out.stderr);
      await assertSameBytes(out.body, randomBytes(100_000));
    });

    await t.step("-x http:// forwards an http:// URL", async () => {
      const out = await curl("-x", `http://${socks}`, `http://127.0.0.1:${origin.port}/bytes/5000`);
      assertEquals(out.code, 0, out.stderr);
      await assertSameBytes(out.body, randomBytes(5000));
    });

    await t.step("-x http:// tunnels an https:// URL with CONNECT (own CA)", async () => {
      const certs = await makeCertificates(dir);
      const https = Deno.serve({
        hostname: "127.0.0.1",
        port: 0,
        cert: await Deno.readTextFile(certs.cert),
        key: await Deno.readTextFile(certs.key),
        onListen() {},
      }, (request) => new Response(`secure ${new URL(request.url).pathname}\n`));
      try {
        const out = await curl(
          "-x",
          `http://${socks}`,
          "--cacert",
          certs.caCert,
          `https://localhost:${https.addr.port}/over-connect`,
        );
        assertEquals(out.code, 0, out.stderr);
        assertEquals(decoder.decode(out.body), "secure /over-connect\n");
      } finally {
        await https.shutdown();
      }
    });

    await t.step("an IPv6 destination [::1] by SOCKS5 and by HTTP", async () => {
      const url = `http://[::1]:${origin6.port}/`;
      const bySocks = await curl("--socks5-hostname", socks, url);
      assertEquals(bySocks.code, 0, bySocks.stderr);
      assertEquals(decoder.decode(bySocks.body), "origin ::1 says hello\n");
      const byHttp = await curl("-x", `http://${socks}`, url);
      assertEquals(byHttp.code, 0, byHttp.stderr);
      assertEquals(decoder.decode(byHttp.body), "origin ::1 says hello\n");
    });

    await t.step("64 MiB down, SHA-256 equal at both ends", async () => {
      const expected = await sha256(randomBytes(64 * MiB));
      const started = performance.now();
      const out = await curl(
        "--socks5-hostname",
        socks,
        `http://127.0.0.1:${origin.port}/bytes/${64 * MiB}`,
      );
      const seconds = (performance.now() - started) / 1000;
      assertEquals(out.code, 0, out.stderr);
      assertEquals(out.body.length, 64 * MiB);
      assertEquals(await sha256(out.body), expected);
      console.log(`64 MiB down: ${seconds.toFixed(2)} s (${(64 / seconds).toFixed(1)} MiB/s)`);
    });

    await t.step("64 MiB up (PUT of a file), SHA-256 equal at both ends", async () => {
      const data = randomBytes(64 * MiB, 7);
      const file = `${dir}/upload.bin`;
      await Deno.writeFile(file, data);
      const started = performance.now();
      const out = await curl(
        "--socks5-hostname",
        socks,
        "-T",
        file,
        `http://127.0.0.1:${origin.port}/sha256`,
      );
      const seconds = (performance.now() - started) / 1000;
      assertEquals(out.code, 0, out.stderr);
      const seen = JSON.parse(decoder.decode(out.body));
      assertEquals(seen, { length: 64 * MiB, sha256: await sha256(data) });
      console.log(`64 MiB up: ${seconds.toFixed(2)} s (${(64 / seconds).toFixed(1)} MiB/s)`);
    });

    await t.step("both ends logged access lines, and no secret", async () => {
      await eventually(
        () =>
          /SOCKS5 .*-> 127\.0\.0\.1:\d+ up=\d+ down=67108\d+ .*closed/.test(
            chain.local.program.output,
          ),
        `the local's access line for the download in:\n${chain.local.program.output}`,
      );
      const remoteLog = chain.remote.program.output;
      const localLog = chain.local.program.output;
      assert(
        /alice .*-> localhost:\d+ up=\d+ down=\d+ .*closed: /.test(remoteLog),
        `no access line for localhost in:\n${remoteLog}`,
      );
      for (const output of [remoteLog, localLog]) {
        assert(!output.includes("alice-secret"), `the password was printed:\n${output}`);
        assert(!output.includes(trojanToken("alice:alice-secret")), "the token was printed");
      }
    });
  } finally {
    await origin.close();
    await origin6.close();
    await chain.stop();
    await Deno.remove(dir, { recursive: true });
  }
});
