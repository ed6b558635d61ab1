/**
 * Per-user rate limits on the remote, through real processes: curl through a real local, the
 * limit set with the real `user set`, one connection against four sharing the same bucket.
 */
import { assert } from "../_assert.ts";
import { curl, delay, randomBytes, startChain, startOrigin } from "../_harness.ts";
import { Counter, download, jain, KiB, MiB, rateOf, startEndpoint } from "./_traffic.ts";

/** Runs curl through the chain's local; returns curl's own total time in seconds. */
async function timedCurl(
  proxy: string,
  ...args: string[]
): Promise<{ seconds: number; out: string }> {
  const result = await curl("-x", `socks5h://${proxy}`, "-w", "\n%{time_total}", ...args);
  const text = new TextDecoder().decode(result.body);
  assert(result.code === 0, `curl failed (${result.code}): ${result.stderr}`);
  const lines = text.trimEnd().split("\n");
  return { seconds: Number(lines.at(-1)), out: lines.slice(0, -1).join("\n") };
}

/** Waits out one second so the user's bucket is full again (every run starts the same). */
const refill = () => delay(1100);

Deno.test("a 1 MiB/s download limit holds for one connection and for four sharing it", async () => {
  const origin = startOrigin();
  const chain = await startChain();
  try {
    await chain.remote.user("set", "alice", "--down", "1MiB");
    await refill();
    const url = (n: number) => `http://127.0.0.1:${origin.port}/bytes/${n}`;
    const one = await timedCurl(chain.local.address, "-o", "/dev/null", url(5 * MiB));
    assert(
      one.seconds >= 4 && one.seconds <= 6.5,
      `5 MiB at 1 MiB/s (1 s burst) took ${one.seconds} s, expected 4–6.5`,
    );

    await refill();
    const started = performance.now();
    await Promise.all(
      Array.from(
        { length: 4 },
        () => timedCurl(chain.local.address, "-o", "/dev/null", url(1.25 * MiB)),
      ),
    );
    const together = (performance.now() - started) / 1000;
    assert(
      together >= 4 && together <= 6.5,
      `4 × 1.25 MiB at 1 MiB/s took ${together.toFixed(2)} s together, expected 4–6.5`,
    );
    assert(
      Math.abs(together - one.seconds) < 1,
      `four connections took ${together.toFixed(2)} s, one took ${one.seconds} s`,
    );
  } finally {
    await chain.stop();
    await origin.close();
  }
});

Deno.test("a 1 MiB/s upload limit holds for one connection and for four sharing it", async () => {
  const origin = startOrigin();
  const chain = await startChain();
  const dir = await Deno.makeTempDir({ prefix: "swiftproxy-limits-" });
  try {
    await Deno.writeFile(`${dir}/big`, randomBytes(5 * MiB, 7));
    await Deno.writeFile(`${dir}/quarter`, randomBytes(1.25 * MiB, 9));
    await chain.remote.user("set", "alice", "--up", "1MiB");
    await refill();
    const url = `http://127.0.0.1:${origin.port}/sha256`;
    const post = (file: string) =>
      timedCurl(chain.local.address, "--data-binary", `@${dir}/${file}`, url);
    const one = await post("big");
    assert(JSON.parse(one.out).length === 5 * MiB, `the origin got ${one.out}`);
    assert(
      one.seconds >= 4 && one.seconds <= 6.5,
      `a 5 MiB upload at 1 MiB/s took ${one.seconds} s, expected 4–6.5`,
    );

    await refill();
    const started = performance.now();
    const four = await Promise.all(Array.from({ length: 4 }, () => post("quarter")));
    const together = (performance.now() - started) / 1000;
    for (const r of four) assert(JSON.parse(r.out).length === 1.25 * MiB, `got ${r.out}`);
    assert(
      together >= 4 && together <= 6.5,
      `4 × 1.25 MiB uploads at 1 MiB/s took ${together.toFixed(2)} s, expected 4–6.5`,
    );
    assert(
      Math.abs(together - one.seconds) < 1,
      `four uploads took ${together.toFixed(2)} s, one took ${one.seconds} s`,
    );
  } finally {
    await chain.stop();
    await origin.close();
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("user set during downloads changes their rate within a second; they share it fairly", async () => {
  const endpoint = startEndpoint();
  const chain = await startChain();
  const stop = new AbortController();
  try {
    await chain.remote.user("set", "alice", "--down", "256KiB");
    await refill();
    const counters = Array.from({ length: 4 }, () => new Counter());
    const transfers = counters.map((c) =>
      download(chain.local.port, endpoint, 64 * MiB, c, stop.signal)
    );
    const started = performance.now();
    await delay(4000);
    const slow = rateOf(counters, started + 1500, started + 4000);
    assert(
      slow > 200 * KiB && slow < 320 * KiB,
      `expected about 256 KiB/s before the change, got ${(slow / KiB).toFixed(0)} KiB/s`,
    );
    const shares = counters.map((c) => c.between(started + 1500, started + 4000));
    assert(jain(shares) > 0.9, `four connections shared unfairly: ${shares.join(", ")} bytes`);

    await chain.remote.user("set", "alice", "--down", "1MiB");
    const changed = performance.now();
    await delay(3000);
    const fast = rateOf(counters, changed + 1000, changed + 3000);
    assert(
      fast > 0.8 * MiB && fast < 1.25 * MiB,
      `expected about 1 MiB/s from 1 s after the change, got ${(fast / MiB).toFixed(2)} MiB/s`,
    );
    assert(counters.every((c) => c.ended === null), "a download stopped");
    stop.abort();
    await Promise.all(transfers);
  } finally {
    stop.abort();
    await chain.stop();
    endpoint.close();
  }
});
