import { assert, assertEquals } from "../_assert.ts";
import { ROOT, runProgram } from "../_harness.ts";

Deno.test("bench --rules runs end to end: decisions, load memory, the local's start-ups, nothing written", async () => {
  const benchmarks = await Deno.readTextFile(`${ROOT}docs/BENCHMARKS.md`);
  // Tiny sizes: 1,000 rules, one start per row, no page loads (Chromium is the WAN rows' cost).
  const run = await runProgram([
    "run",
    "-q",
    "-P=bench",
    `${ROOT}scripts/bench.ts`,
    "--rules",
    "--quick",
    "--rule-count",
    "1000",
    "--starts",
    "1",
    "--loads",
    "0",
    "--no-write",
  ]);
  assertEquals(run.code, 0, run.stderr);
  const out = run.stdout;
  for (const kind of ["name under a rule", "name under none \\(GEOIP\\)", "address \\(GEOIP\\)"]) {
    assert(new RegExp(`decision: ${kind}\\s+p50 [\\d.]+ µs, p99 [\\d.]+ µs`).test(out), out);
  }
  assert(/load: 1,000 DOMAIN-SUFFIX rules .*\d+ ms\s+heap \+ buffers/.test(out), out);
  assert(/load: the same 1,000 names as a text rule-set .*\d+ ms\s+heap \+ buffers/.test(out), out);
  // 617,685 ranges at the time of writing: the database was read whole, not a stub.
  const ranges = Number(/GeoIP database \(([\d,]+) ranges\)/.exec(out)?.[1]?.replaceAll(",", ""));
  assert(ranges > 100_000, out);
  for (
    const start of ["no rules", "1,000 DOMAIN-SUFFIX rules", "`--direct-country CN` \\(GeoIP\\)"]
  ) {
    assert(new RegExp(`local start-up: ${start}\\s+\\d+ ms.*RSS [\\d.]+ MiB`).test(out), out);
  }
  assert(/Target ≤ 5 µs p50 per decision: (met|not met)/.test(out), out);
  assertEquals(await Deno.readTextFile(`${ROOT}docs/BENCHMARKS.md`), benchmarks);
});
