/**
 * Fallback relays are connections that never logged in: they take no `--max-conns` slot, count
 * against the handshake gate's cap per source address, and idle out, so one address holding
 * silent and fallback connections cannot lock an honest user out. (Partial headers and the
 * descriptor side: `descriptors_test.ts`.)
 */
import { assert, assertEquals } from "../_assert.ts";
import { delay, startOrigin } from "../_harness.ts";
import { InProcessRemote } from "../_inprocess.ts";
import { startFallbackSite, trojan } from "./_helpers.ts";
import { TlsProbe } from "./_tls_client.ts";
import { PRE_LOGIN_PER_SOURCE, READY_PER_SOURCE } from "../../lib/common/net/handshake_gate.ts";

const GET = "GET / HTTP/1.1\r\nHost: x\r\n\r\n";

Deno.test("pre-login: 20 silent and 20 fallback connections leave --max-conns 20 to the users", async () => {
  const site = startFallbackSite();
  const origin = startOrigin();
  const remote = await InProcessRemote.start(undefined, {
    fallback: { host: "127.0.0.1", port: site.port },
    maxConns: 20,
  });
  const squatters: TlsProbe[] = [];
  try {
    for (let i = 0; i < 20; i++) squatters.push(await TlsProbe.open(remote, "127.0.0.2"));
    for (let i = 0; i < 20; i++) {
      const probe = await TlsProbe.open(remote, "127.0.0.2");
      probe.send("GET / HTTP/1.1\r\nHost: x\r\n"); // not a header, and the request never ends
      squatters.push(probe);
    }
    await delay(300);
    assert(squatters.every((s) => !s.closed), "the squatters are all open");
    let ok = 0;
    for (let i = 0; i < 5; i++) {
      const reply = await trojan(remote, {
        credential: "alice:alice-secret",
        destination: { host: "127.0.0.1", port: origin.port },
        payload: new TextEncoder().encode(GET.replace("\r\n\r\n", "\r\nConnection: close\r\n\r\n")),
        localAddress: "127.0.0.1",
      });
      if (new TextDecoder().decode(reply.bytes).startsWith("HTTP/1.1 200")) ok++;
    }
    assertEquals(ok, 5, "every honest attempt gets through");
  } finally {
    for (const s of squatters) s.close();
    await remote.stop();
    await origin.close();
    site.close();
  }
});

Deno.test("pre-login: fallback relays count against the per-source cap and idle out", async () => {
  const site = startFallbackSite();
  const remote = await InProcessRemote.start(undefined, {
    fallback: { host: "127.0.0.1", port: site.port },
    idleTimeoutMs: 1_500,
  });
  const probes: TlsProbe[] = [];
  try {
    for (let i = 0; i < PRE_LOGIN_PER_SOURCE + 10; i++) {
      const probe = await TlsProbe.open(remote, "127.0.0.3");
      probe.send("GET / HTTP/1.1\r\n");
      probes.push(probe);
    }
    await delay(500);
    const open = probes.filter((p) => !p.closed).length;
    assertEquals(open, PRE_LOGIN_PER_SOURCE, `${open} fallback relays open from one address`);
    // The oldest made room; another address is not affected.
    assert(probes.slice(0, 10).every((p) => p.closed), "the oldest were closed");
    const other = await TlsProbe.open(remote, "127.0.0.4");
    other.send(GET);
    assert(await other.until(() => other.text.includes("nginx")), "another address is served");
    other.close();

    // Nothing moves either way: every relay is closed after the idle timeout.
    assert(await probes.at(-1)!.until(() => probes.every((p) => p.closed), 4_000), "idle out");
  } finally {
    for (const p of probes) p.close();
    await remote.stop();
    site.close();
  }
});

/** `count` TLS connections from `source` that send nothing, opened one after another. */
async function silent(remote: InProcessRemote, source: string, count: number, held: TlsProbe[]) {
  const probes: TlsProbe[] = [];
  for (let i = 0; i < count; i++) probes.push(await TlsProbe.open(remote, source));
  held.push(...probes);
  await delay(300);
  return probes;
}

const stillOpen = (probes: TlsProbe[]) => probes.filter((p) => !p.closed).length;

Deno.test("pre-login: a source that logged in may hold ready tunnels beyond the cap; strangers may not", async () => {
  const origin = startOrigin();
  const remote = await InProcessRemote.start();
  const held: TlsProbe[] = [];
  const extra = 10;
  try {
    // A stranger's silent connections: the cap, the oldest closed.
    const stranger = await silent(remote, "127.0.0.5", PRE_LOGIN_PER_SOURCE + extra, held);
    assertEquals(stillOpen(stranger), PRE_LOGIN_PER_SOURCE, "a stranger is capped");

    // Once 127.0.0.6 has logged in, its silent connections (a local's ready tunnels) are kept
    // apart, up to READY_PER_SOURCE; past that, the cap applies to them as to anyone.
    const login = await trojan(remote, {
      credential: "alice:alice-secret",
      destination: { host: "127.0.0.1", port: origin.port },
      payload: new TextEncoder().encode(GET.replace("\r\n\r\n", "\r\nConnection: close\r\n\r\n")),
      localAddress: "127.0.0.6",
    });
    assert(new TextDecoder().decode(login.bytes).startsWith("HTTP/1.1 200"), "alice logs in");
    const ready = await silent(remote, "127.0.0.6", READY_PER_SOURCE + extra, held);
    assertEquals(stillOpen(ready), READY_PER_SOURCE + extra, "none of them is closed");
    const more = await silent(remote, "127.0.0.6", PRE_LOGIN_PER_SOURCE, held);
    assertEquals(stillOpen(more), PRE_LOGIN_PER_SOURCE, "the newest are kept");
    assertEquals(
      stillOpen(ready),
      READY_PER_SOURCE,
      "the ones beyond READY_PER_SOURCE counted against the cap, and the oldest made room",
    );

    // The moment a kept-apart one sends a byte it counts like any other: half a header from
    // the user's address closes the oldest counted one.
    ready[0]!.send("0");
    await delay(300);
    assert(!ready[0]!.closed, "the one that spoke waits for the rest of its header");
    assert(more[0]!.closed, "the oldest counted one made room");
    assertEquals(stillOpen(more), PRE_LOGIN_PER_SOURCE - 1);
  } finally {
    for (const p of held) p.close();
    await remote.stop();
    await origin.close();
  }
});
