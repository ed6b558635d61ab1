/**
 * `GET /metrics` on the admin listener: the right byte counts after a transfer, connection
 * results, a removed user's series gone, no address as a label, and a real Prometheus
 * (Debian's) scraping it and reporting the same numbers through its HTTP API.
 */
import { assert, assertEquals } from "../_assert.ts";
import { delay, freePort, has, startOrigin } from "../_harness.ts";
import { trojan } from "../hardening/_helpers.ts";
import { sample, startAdmin } from "./admin/_admin.ts";
import { parseCidr } from "../../lib/common/security/cidr.ts";

const DOWNLOAD = 3_000_000;

async function waitFor<T>(
  what: string,
  get: () => Promise<T | undefined>,
  ms = 15_000,
): Promise<T> {
  const deadline = Date.now() + ms;
  let last: T | undefined;
  while (Date.now() < deadline) {
    last = await get();
    if (last !== undefined) return last;
    await delay(200);
  }
  throw new Error(`${what}: not within ${ms} ms`);
}

Deno.test("metrics: byte counts, results and connections; Prometheus scrapes the same numbers", async () => {
  const origin = startOrigin();
  const admin = await startAdmin({}, { alice: "alice-secret", bob: "bob-secret" }, {
    policy: { allowPrivate: true, allow: [], deny: [parseCidr("127.0.0.2/32")] },
  });
  const dir = await Deno.makeTempDir({ prefix: "swiftproxy-prometheus-" });
  let prometheus: Deno.ChildProcess | undefined;
  try {
    const request = new TextEncoder().encode(
      `GET /bytes/${DOWNLOAD} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n`,
    );
    const reply = await trojan(admin.remote, {
      credential: "alice:alice-secret",
      destination: { host: "127.0.0.1", port: origin.port },
      payload: request,
      readMs: 15_000,
    });
    assert(reply.bytes.length > DOWNLOAD, `downloaded ${reply.bytes.length} bytes`);
    await trojan(admin.remote, {
      credential: "alice:wrong-password",
      destination: { host: "127.0.0.1", port: origin.port },
    });
    await trojan(admin.remote, {
      credential: "alice:alice-secret",
      destination: { host: "127.0.0.2", port: origin.port },
    });

    const scrape = async () => {
      const response = await fetch(`${admin.origin}/metrics`);
      assertEquals(response.headers.get("content-type")?.split(";")[0], "text/plain");
      return await response.text();
    };
    const text = await waitFor("the counters", async () => {
      const t = await scrape();
      return sample(t, 'swiftproxy_connections_total{result="auth_failed"}') === 1 ? t : undefined;
    });
    assertEquals(
      sample(text, 'swiftproxy_user_transfer_bytes_total{user="alice",direction="down"}'),
      reply.bytes.length,
    );
    assertEquals(
      sample(text, 'swiftproxy_user_transfer_bytes_total{user="alice",direction="up"}'),
      request.length,
    );
    assertEquals(
      sample(text, 'swiftproxy_user_transfer_bytes_total{user="bob",direction="down"}'),
      0,
    );
    assertEquals(sample(text, 'swiftproxy_user_connections{user="alice"}'), 0);
    assertEquals(sample(text, 'swiftproxy_connections_total{result="ok"}'), 1);
    assertEquals(sample(text, 'swiftproxy_connections_total{result="refused_destination"}'), 1);
    assert(sample(text, "swiftproxy_handshake_evictions_total") === 0, text);
    assert(sample(text, "swiftproxy_auth_throttled_sources") === 0, text);
    assert(sample(text, "process_resident_memory_bytes")! > 10_000_000, "process metrics");
    assert(!/127\.0\.0\.[12]/.test(text), "no address appears in the metrics");

    await admin.remote.user("remove", "bob");
    await admin.remote.server.accounts.reload();
    assert(!(await scrape()).includes('user="bob"'), "a removed user's series are gone");

    if (!has("prometheus")) {
      console.log("prometheus is not installed: the scrape by a real Prometheus is skipped");
      return;
    }
    const port = freePort();
    await Deno.writeTextFile(
      `${dir}/prometheus.yml`,
      [
        "global:",
        "  scrape_interval: 1s",
        "scrape_configs:",
        "  - job_name: swiftproxy",
        "    static_configs:",
        `      - targets: ["127.0.0.1:${new URL(admin.origin).port}"]`,
      ].join("\n"),
    );
    prometheus = new Deno.Command("prometheus", {
      args: [
        `--config.file=${dir}/prometheus.yml`,
        `--storage.tsdb.path=${dir}/data`,
        `--web.listen-address=127.0.0.1:${port}`,
      ],
      stdout: "null",
      stderr: "null",
    }).spawn();
    const query = async (promql: string): Promise<number | undefined> => {
      try {
        const response = await fetch(
          `http://127.0.0.1:${port}/api/v1/query?query=${encodeURIComponent(promql)}`,
        );
        const body = await response.json();
        const value = body?.data?.result?.[0]?.value?.[1];
        return value === undefined ? undefined : Number(value);
      } catch {
        return undefined;
      }
    };
    const down = await waitFor(
      "Prometheus' first scrape",
      () => query('swiftproxy_user_transfer_bytes_total{user="alice",direction="down"}'),
      20_000,
    );
    assertEquals(down, reply.bytes.length, "Prometheus reports the bytes the client received");
    assertEquals(await query('swiftproxy_connections_total{result="auth_failed"}'), 1);
    assertEquals(await query('up{job="swiftproxy"}'), 1);
    console.log(`Prometheus on 127.0.0.1:${port} scraped alice's ${down} bytes down`);
  } finally {
    if (prometheus) {
      prometheus.kill("SIGTERM");
      await prometheus.status;
    }
    await admin.stop();
    await origin.close();
    await Deno.remove(dir, { recursive: true }).catch(() => {});
  }
});
