/**
 * Response splitting and request smuggling through the real local's HTTP forwarding: a
 * malicious origin hiding `\nTransfer-Encoding: chunked` in a header gets the client a 502, and
 * ambiguous request framings a 400, never an empty reply or a forwarded message.
 */
import { assert, assertEquals } from "../_assert.ts";
import { closeQuietly, startQuietChain, TcpServer } from "./_e2e.ts";

const text = new TextDecoder();

/** A raw origin that records each request and answers every one with `reply`. */
function rawOrigin(reply: string) {
  const requests: string[] = [];
  const server = new TcpServer(async (conn) => {
    const buffer = new Uint8Array(65536);
    const n = await conn.read(buffer).catch(() => null);
    if (n) requests.push(text.decode(buffer.subarray(0, n)));
    await conn.write(new TextEncoder().encode(reply)).catch(() => {});
    await new Promise((r) => setTimeout(r, 200));
  });
  return { port: server.port, requests, close: () => server.close() };
}

/** Sends `request` to the proxy on a fresh connection and reads until it closes (2 s at most). */
async function ask(proxyPort: number, request: string): Promise<string> {
  const conn = await Deno.connect({ hostname: "127.0.0.1", port: proxyPort });
  await conn.write(new TextEncoder().encode(request));
  let answer = "";
  const buffer = new Uint8Array(65536);
  const deadline = setTimeout(() => closeQuietly(conn), 2_000);
  try {
    for (let n; (n = await conn.read(buffer)) !== null;) {
      answer += text.decode(buffer.subarray(0, n));
    }
  } catch {
    // closed by the deadline
  }
  clearTimeout(deadline);
  closeQuietly(conn);
  return answer;
}

Deno.test("HTTP forwarding refuses split and smuggled messages", async (t) => {
  const chain = await startQuietChain();
  const origins: { close(): void }[] = [];
  const origin = (reply: string) => {
    const started = rawOrigin(reply);
    origins.push(started);
    return started;
  };
  try {
    await t.step("a response header hiding a LF is answered 502, not forwarded", async () => {
      const evil = origin(
        "HTTP/1.1 200 OK\r\nContent-Length: 31\r\nX-Evil: a\nTransfer-Encoding: chunked\r\n\r\n" +
          "0\r\n\r\nHTTP/1.1 200 OK\r\nX-Pwn: 1\r\n\r\n",
      );
      const answer = await ask(
        chain.local.port,
        `GET http://127.0.0.1:${evil.port}/ HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n`,
      );
      assert(answer.startsWith("HTTP/1.1 502 "), `the client got: ${JSON.stringify(answer)}`);
      assert(!answer.includes("X-Evil") && !answer.includes("X-Pwn"), JSON.stringify(answer));
    });

    await t.step("ambiguous request framings are answered 400, never forwarded", async () => {
      const site = origin("HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok");
      const smuggles = [
        "Content-Length: 4\r\nTransfer-Encoding: chunked\r\n",
        "Content-Length: 4\r\nContent-Length: 5\r\n",
        "Transfer-Encoding: chunked, gzip\r\n",
        "X-Evil: a\nContent-Length: 4\r\n",
        "X-Evil: a\0b\r\n",
      ];
      for (const headers of smuggles) {
        const request = `POST http://127.0.0.1:${site.port}/ HTTP/1.1\r\n${headers}\r\nbody`;
        const answer = await ask(chain.local.port, request);
        assert(answer.startsWith("HTTP/1.1 400 "), `${JSON.stringify(headers)}: got ${answer}`);
      }
      assertEquals(site.requests, [], "requests that reached the origin");
    });

    await t.step("the Host the origin sees is the absolute URL's, not the client's", async () => {
      const site = origin("HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok");
      const answer = await ask(
        chain.local.port,
        `GET http://127.0.0.1:${site.port}/x HTTP/1.1\r\nHost: evil.example\r\nConnection: close\r\n\r\n`,
      );
      assert(answer.startsWith("HTTP/1.1 200 "), answer);
      assertEquals(site.requests.length, 1);
      const hosts = site.requests[0]!.split("\r\n").filter((l) => /^host:/i.test(l));
      assertEquals(hosts, [`Host: 127.0.0.1:${site.port}`]);
    });
  } finally {
    for (const started of origins) started.close();
    await chain.stop();
  }
});
