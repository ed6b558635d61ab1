/**
 * The HTTP proxy's keep-alive connections: waiting for the next request is the idle timeout's
 * business, but once a request head starts it must be complete within the handshake timeout,
 * as the first one must (a slowloris after one honest request).
 */
import { assert, assertEquals } from "../_assert.ts";
import { startOrigin } from "../_harness.ts";
import { startInProcessChain } from "../_inprocess.ts";
import { closeQuietly, writeAll } from "../e2e/_e2e.ts";

const encoder = new TextEncoder();

/** Reads one response with a Content-Length body; returns its status line. */
async function readResponse(conn: Deno.Conn): Promise<string> {
  let text = "";
  const buffer = new Uint8Array(64 * 1024);
  for (;;) {
    const end = text.indexOf("\r\n\r\n");
    if (end >= 0) {
      const length = Number(/content-length: *(\d+)/i.exec(text.slice(0, end))?.[1] ?? 0);
      if (text.length >= end + 4 + length) return text.slice(0, text.indexOf("\r\n"));
    }
    const n = await conn.read(buffer);
    if (n === null) throw new Error(`closed before a whole response: ${JSON.stringify(text)}`);
    text += new TextDecoder().decode(buffer.subarray(0, n));
  }
}

/** Milliseconds until the peer closes `conn`, or null if it is still open after `ms`. */
async function closedWithin(conn: Deno.Conn, ms: number): Promise<number | null> {
  const started = performance.now();
  const timer = setTimeout(() => closeQuietly(conn), ms);
  try {
    const n = await conn.read(new Uint8Array(1024)).catch(() => "ours" as const);
    return n === "ours" ? null : performance.now() - started;
  } finally {
    clearTimeout(timer);
    closeQuietly(conn);
  }
}

Deno.test("keep-alive: the second request head gets the handshake deadline, idle waiting does not", async () => {
  const origin = startOrigin();
  const chain = await startInProcessChain({}, { localArgs: ["--handshake-timeout", "1"] });
  const request = (path: string) =>
    encoder.encode(`GET http://127.0.0.1:${origin.port}${path} HTTP/1.1\r\nHost: x\r\n\r\n`);
  try {
    const slow = await Deno.connect({ hostname: "127.0.0.1", port: chain.local.port });
    const idle = await Deno.connect({ hostname: "127.0.0.1", port: chain.local.port });
    for (const conn of [slow, idle]) {
      await writeAll(conn, request("/first"));
      assertEquals(await readResponse(conn), "HTTP/1.1 200 OK");
    }
    // The start of a second head, then nothing: closed at the deadline, not after 5 minutes.
    await writeAll(slow, encoder.encode(`GET http://127.0.0.1:${origin.port}/second HTTP/1.1\r\n`));
    const ms = await closedWithin(slow, 4_000);
    assert(ms !== null, "the half-sent second head was still open after 4 s");
    assert(ms >= 800, `closed after ${ms} ms, before the 1 s deadline`);

    // A keep-alive client that waits longer than the deadline before its next request is fine.
    await new Promise((r) => setTimeout(r, 1_500));
    await writeAll(idle, request("/after-a-pause"));
    assertEquals(await readResponse(idle), "HTTP/1.1 200 OK");
    closeQuietly(idle);
  } finally {
    await chain.stop();
    await origin.close();
  }
});
