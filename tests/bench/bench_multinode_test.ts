import { assert, assertEquals } from "../_assert.ts";
import { ROOT, runProgram } from "../_harness.ts";
import { POSTGRES_MISSING } from "../_postgres.ts";

Deno.test({
  name: "bench:multinode runs end to end: 3 nodes, 3 users, every byte recorded, nothing written",
  ignore: POSTGRES_MISSING !== undefined,
  async fn() {
    const benchmarks = await Deno.readTextFile(`${ROOT}docs/BENCHMARKS.md`);
    const run = await runProgram([
      "run",
      "-q",
      "-P=bench",
      `${ROOT}scripts/bench_multinode.ts`,
      "--seconds",
      "3",
      "--users",
      "3",
      "--no-write",
    ]);
    assertEquals(run.code, 0, run.stderr);
    assert(/\(0 failed\)/.test(run.stdout), run.stdout);
    assert(/usage: users recorded to the byte\s+3\/3\s+3\/3/.test(run.stdout), run.stdout);
    for (const node of ["node1", "node2", "node3"]) {
      assert(new RegExp(`^${node}\\s+\\d+%\\s+\\d+ MiB`, "m").test(run.stdout), run.stdout);
    }
    assertEquals(await Deno.readTextFile(`${ROOT}docs/BENCHMARKS.md`), benchmarks);
  },
});
