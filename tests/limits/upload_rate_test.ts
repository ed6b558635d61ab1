/**
 * The per-user upload rate limit on the remote, through real processes: curl posts through a
 * real local, the limit set with the real `user set`, one connection against four sharing the
 * same bucket (downloads: `rate_test.ts`).
 */
import { assert } from "../_assert.ts";
import { randomBytes, startChain, startOrigin } from "../_harness.ts";
import { MiB, refill, timedCurl } from "./_traffic.ts";

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
