/**
 * HTTP proxy forwarding (`GET http://…`) through the whole chain: hop-by-hop headers removed,
 * several requests on one keep-alive client connection to different hosts, chunked and large
 * request bodies.
 */
import { assert, assertEquals } from "../_assert.ts";
import { curl, randomBytes, sha256, startOrigin } from "../_harness.ts";
import { assertSameBytes, namedOrigin, startQuietChain } from "./_e2e.ts";

const decoder = new TextDecoder();

Deno.test("HTTP forwarding through the whole chain", async (t) => {
  const chain = await startQuietChain();
  const origin4 = startOrigin("127.0.0.1");
  const origin6 = startOrigin("::1");
  const first = namedOrigin("first");
  const second = namedOrigin("second");
  const dir = await Deno.makeTempDir({ prefix: "swiftproxy-e2e-http-" });
  const proxy = `http://${chain.local.address}`;
  const a = `http://127.0.0.1:${origin4.port}`;
  const b = `http://[::1]:${origin6.port}`;
  try {
    await t.step("hop-by-hop headers are removed, end-to-end ones kept", async () => {
      const out = await curl(
        "-x",
        proxy,
        "-H",
        "Connection: keep-alive, X-Hop-Secret",
        "-H",
        "X-Hop-Secret: must-not-arrive",
        "-H",
        "Proxy-Connection: keep-alive",
        "-H",
        "Proxy-Authorization: Basic Zm9vOmJhcg==",
        "-H",
        "Keep-Alive: timeout=5",
        "-H",
        "X-End-To-End: kept",
        `${a}/echo-headers?q=1`,
      );
      assertEquals(out.code, 0, out.stderr);
      const seen = JSON.parse(decoder.decode(out.body));
      assertEquals(seen.path, "/echo-headers?q=1");
      const names = Object.keys(seen.headers);
      for (const hop of ["proxy-connection", "proxy-authorization", "x-hop-secret", "keep-alive"]) {
        assert(!names.includes(hop), `${hop} reached the origin: ${JSON.stringify(seen.headers)}`);
      }
      assert(
        !(seen.headers.connection ?? "").toLowerCase().includes("x-hop-secret"),
        `Connection leaked: ${seen.headers.connection}`,
      );
      assertEquals(seen.headers["x-end-to-end"], "kept");
      assertEquals(seen.headers.host, `127.0.0.1:${origin4.port}`);
    });

    await t.step("several requests on one client connection, to different hosts", async () => {
      // No IPv6 literal here: curl 7.88 gets the Host brackets wrong on a reused connection.
      const urls = [
        `${a}/bytes/70000`,
        `http://127.0.0.1:${first.port}/one`,
        `http://localhost:${second.port}/two`,
        `${a}/bytes/3000`,
        `http://127.0.0.1:${first.port}/three`,
      ];
      const args = ["-x", proxy, "-w", "%{num_connects}\\n"];
      urls.forEach((url, i) => args.push(url, "-o", `${dir}/body${i}`));
      const out = await curl(...args);
      assertEquals(out.code, 0, out.stderr);
      const connects = decoder.decode(out.body).trim().split("\n").map(Number);
      assertEquals(connects.reduce((x, y) => x + y, 0), 1, `connects per URL: ${connects}`);
      const body = (i: number) => Deno.readFile(`${dir}/body${i}`);
      await assertSameBytes(await body(0), randomBytes(70000));
      assertEquals(decoder.decode(await body(1)), "first GET /one 0\n");
      assertEquals(decoder.decode(await body(2)), "second GET /two 0\n");
      await assertSameBytes(await body(3), randomBytes(3000));
      assertEquals(decoder.decode(await body(4)), "first GET /three 0\n");
    });

    await t.step("a chunked request body arrives whole", async () => {
      const data = randomBytes(3 * 1024 * 1024 + 17, 3);
      await Deno.writeFile(`${dir}/chunked.bin`, data);
      const out = await curl(
        "-x",
        proxy,
        "-H",
        "Transfer-Encoding: chunked",
        "-H",
        "Content-Type: application/octet-stream",
        "--data-binary",
        `@${dir}/chunked.bin`,
        `${a}/sha256`,
      );
      assertEquals(out.code, 0, out.stderr);
      assertEquals(JSON.parse(decoder.decode(out.body)), {
        length: data.length,
        sha256: await sha256(data),
      });
    });

    await t.step("a large request body (32 MiB, Expect: 100-continue) arrives whole", async () => {
      const data = randomBytes(32 * 1024 * 1024, 5);
      await Deno.writeFile(`${dir}/large.bin`, data);
      const out = await curl(
        "-x",
        proxy,
        "-H",
        "Content-Type: application/octet-stream",
        "--data-binary",
        `@${dir}/large.bin`,
        `${b}/sha256`,
      );
      assertEquals(out.code, 0, out.stderr);
      assertEquals(JSON.parse(decoder.decode(out.body)), {
        length: data.length,
        sha256: await sha256(data),
      });
    });

    await t.step("a POST then a GET on one connection both get their answers", async () => {
      await Deno.writeTextFile(`${dir}/small.txt`, "hello body");
      const out = await curl(
        "-x",
        proxy,
        "-w",
        "%{num_connects}\\n",
        "--data-binary",
        `@${dir}/small.txt`,
        `${a}/sha256`,
        "-o",
        `${dir}/post`,
        "--next",
        "-x",
        proxy,
        "-w",
        "%{num_connects}\\n",
        `${a}/`,
        "-o",
        `${dir}/get`,
      );
      assertEquals(out.code, 0, out.stderr);
      assertEquals(decoder.decode(out.body), "1\n0\n");
      const posted = JSON.parse(await Deno.readTextFile(`${dir}/post`));
      assertEquals(posted.length, 10);
      assertEquals(await Deno.readTextFile(`${dir}/get`), "origin 127.0.0.1 says hello\n");
    });
  } finally {
    await origin4.close();
    await origin6.close();
    await first.close();
    await second.close();
    await chain.stop();
    await Deno.remove(dir, { recursive: true });
  }
});
