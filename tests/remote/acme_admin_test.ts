/**
 * The admin panel off loopback with `serve --acme` (Debian's pebble on loopback, as
 * tests/remote/acme_test.ts): it serves the issued certificate, and at a renewal (15 s
 * certificates: due about 10 s after issuance) new connections get the renewed one without a
 * restart while an open keep-alive connection goes on answering.
 */
import tls from "node:tls";
import { assert, assertEquals } from "../_assert.ts";
import { freePort, has } from "../_harness.ts";
import { startPebble } from "./_pebble.ts";
import { acmeRemote, pemSha256, servedCertificate } from "./_acme.ts";

/** A kept-alive HTTPS connection to the panel, asking one request at a time. */
async function keptAlive(port: number, ca: string) {
  const socket = tls.connect({ host: "127.0.0.1", port, servername: "a.swiftproxy.test", ca });
  await new Promise<void>((resolve, reject) => {
    socket.once("secureConnect", resolve);
    socket.once("error", reject);
  });
  let closed = false;
  socket.once("close", () => closed = true);
  const fingerprint = socket.getPeerCertificate().fingerprint256.replaceAll(":", "").toLowerCase();
  return {
    fingerprint,
    authorized: socket.authorized,
    get closed() {
      return closed;
    },
    /** `GET /app.css` on this connection: the status line of the (chunked) answer. */
    ask(): Promise<string> {
      return new Promise((resolve, reject) => {
        let text = "";
        const onData = (chunk: Uint8Array) => {
          text += new TextDecoder().decode(chunk);
          if (text.endsWith("\r\n0\r\n\r\n")) {
            socket.off("data", onData);
            resolve(text.split("\r\n")[0]!);
          }
        };
        socket.on("data", onData);
        socket.once("error", reject);
        socket.write(`GET /app.css HTTP/1.1\r\nHost: a.swiftproxy.test:${port}\r\n\r\n`);
      });
    },
    close: () => socket.destroy(),
  };
}

Deno.test({
  name:
    "the admin panel off loopback serves the ACME certificate and takes the renewed one without a restart or a dropped connection",
  ignore: !has("pebble") || !has("pebble-challtestsrv"),
  async fn() {
    const tunnel = freePort();
    const http = freePort();
    const adminPort = freePort();
    const pebble = await startPebble({ tlsPort: tunnel, httpPort: http, validitySeconds: 15 });
    // Off loopback, so over TLS (the wildcard address; the test connects to 127.0.0.1 only).
    const a = await acmeRemote(tunnel, [
      "--acme",
      "a.swiftproxy.test",
      "--acme-directory",
      pebble.directory,
      "--acme-ca",
      pebble.httpsCaPath,
      "--acme-http",
      `127.0.0.1:${http}`,
      "--admin",
      `0.0.0.0:${adminPort}`,
    ]);
    try {
      await a.program.waitFor(/certificate issued for a\.swiftproxy\.test/, 20_000);
      await a.program.waitFor(/reloaded the certificate: .*acme\/cert\.pem \(the admin panel's/);
      const first = await servedCertificate(adminPort, "a.swiftproxy.test", pebble.root);
      assert(first.authorized, "the panel's chain verifies against pebble's root alone");
      assertEquals(first.fingerprint, await pemSha256(`${a.dir}/acme/cert.pem`));

      const kept = await keptAlive(adminPort, pebble.root);
      assertEquals(kept.fingerprint, first.fingerprint);
      assertEquals(await kept.ask(), "HTTP/1.1 200 OK");
      const issued = a.program.output.match(/certificate issued/g)!.length;
      const renewal = a.program.waitFor(
        new RegExp(`(certificate issued[^]*){${issued + 1}}`),
        25_000,
      )
        .then(() => a.program.waitFor(/(reloaded the certificate[^]*){2}/));
      let renewed = false;
      renewal.then(() => renewed = true, () => {});
      // A request every 2 s keeps the connection within the panel's 10 s idle limit.
      let asked = 1;
      while (!renewed) {
        await Promise.race([renewal, new Promise((resolve) => setTimeout(resolve, 2_000))]);
        assertEquals(await kept.ask(), "HTTP/1.1 200 OK");
        asked++;
      }
      await renewal;
      assertEquals(
        await kept.ask(),
        "HTTP/1.1 200 OK",
        "the open connection goes on after the swap",
      );
      assert(!kept.closed && asked >= 3, `closed: ${kept.closed}, ${asked} requests`);

      const next = await servedCertificate(adminPort, "a.swiftproxy.test", pebble.root);
      assert(next.authorized, "the renewed chain verifies");
      assert(
        next.fingerprint !== first.fingerprint,
        "a new connection gets the renewed certificate",
      );
      assertEquals(next.fingerprint, await pemSha256(`${a.dir}/acme/cert.pem`));
      const tunnelNow = await servedCertificate(tunnel, "a.swiftproxy.test", pebble.root);
      assertEquals(tunnelNow.fingerprint, next.fingerprint, "the tunnel and the panel agree");
      kept.close();
    } finally {
      await a.stop();
      await pebble.stop();
    }
  },
});
