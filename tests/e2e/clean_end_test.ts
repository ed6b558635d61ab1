/**
 * A complete answer ends cleanly: after the account status, the welcome page and a
 * subscription the remote sends TLS close_notify and a FIN, never a TCP reset (which may
 * overtake data still in flight, and after which a Windows client discards what it received).
 * Read with Deno's own TLS client, which tells the three ends apart: a clean end reads as
 * `null`, a reset as `ConnectionReset`, a FIN without close_notify as `UnexpectedEof`.
 */
import { assert, assertEquals } from "../_assert.ts";
import { InProcessRemote } from "../_inprocess.ts";
import { encodeTrojanHeader, trojanToken } from "../../lib/protocol/trojan.ts";
import type { Destination } from "../../lib/protocol/address.ts";
import { inProcessLink } from "../remote/_share.ts";

/** Sends `bytes` over TLS to `remote` and reads to the end; how it ended and what came. */
async function readToEnd(
  remote: InProcessRemote,
  bytes: Uint8Array,
): Promise<{ text: string; end: string }> {
  const conn = await Deno.connectTls({
    hostname: "127.0.0.1",
    port: remote.port,
    caCerts: [await Deno.readTextFile(remote.certPath)],
    serverName: "localhost",
  } as Deno.ConnectTlsOptions);
  const chunks: Uint8Array[] = [];
  let end = "clean";
  try {
    await conn.write(bytes);
    const buffer = new Uint8Array(65_536);
    for (;;) {
      const n = await conn.read(buffer);
      if (n === null) break;
      chunks.push(buffer.slice(0, n));
    }
  } catch (error) {
    end = (error as Error).name;
  } finally {
    conn.close();
  }
  const text = new TextDecoder().decode(
    chunks.reduce((a, b) => new Uint8Array([...a, ...b]), new Uint8Array()),
  );
  return { text, end };
}

Deno.test("status, welcome page and subscription end with close_notify and FIN, not a reset", async (t) => {
  const remote = await InProcessRemote.start();
  try {
    const { credential, token } = await inProcessLink(remote, "alice");
    const tunnel = (destination: Destination, payload?: Uint8Array) =>
      encodeTrojanHeader({ token: trojanToken(credential), command: 1, destination }, payload);
    const get = new TextEncoder().encode("GET / HTTP/1.1\r\nHost: welcome\r\n\r\n");

    // The server takes the new password up within a second.
    const status = tunnel({ host: "status.swiftproxy.invalid", port: 1 });
    for (let i = 0; i < 30 && !(await readToEnd(remote, status)).text.includes("alice"); i++) {
      await new Promise((r) => setTimeout(r, 100));
    }

    // Each answer a few times: a reset may or may not overtake the data, but it is always seen.
    for (let round = 0; round < 3; round++) {
      await t.step(`account status, round ${round + 1}`, async () => {
        const got = await readToEnd(remote, status);
        assert(got.text.includes('"user":"alice"'), got.text);
        assertEquals(got.end, "clean");
      });
      await t.step(`welcome page, round ${round + 1}`, async () => {
        for (const sent of [get, new Uint8Array([...get, ...get])]) {
          const got = await readToEnd(
            remote,
            tunnel({ host: "welcome.swiftproxy.invalid", port: 80 }, sent),
          );
          assert(got.text.startsWith("HTTP/1.1 200 OK"), got.text);
          assertEquals(got.end, "clean");
        }
      });
      await t.step(`subscription, round ${round + 1}`, async () => {
        const request = `GET /sub/${token} HTTP/1.1\r\nHost: x\r\n\r\n`;
        // Alone, and with a second request pipelined behind it (which HTTP/1.1 allows).
        for (const sent of [request, request + request]) {
          const got = await readToEnd(remote, new TextEncoder().encode(sent));
          assert(got.text.startsWith("HTTP/1.1 200 OK"), got.text);
          assertEquals(got.end, "clean");
        }
      });
    }
  } finally {
    await remote.stop();
  }
});
