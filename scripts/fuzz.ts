/**
 * `deno task fuzz [CASES] [SEED]`: the parser fuzzer at length (default 1,000,000 cases).
 * Prints the cases run, the slowest input and any finding; exits 1 on a finding.
 */
import { fuzz } from "../tests/hardening/_fuzz.ts";

const cases = Number(Deno.args[0] ?? 1_000_000);
const seed = Number(Deno.args[1] ?? Date.now() % 2 ** 31);
const started = performance.now();
const report = fuzz(cases, seed);
const seconds = (performance.now() - started) / 1000;
console.log(
  `fuzz: ${report.cases} cases (seed ${seed}) in ${seconds.toFixed(1)} s, ` +
    `slowest input ${report.slowestMs.toFixed(2)} ms, ${report.failures.length} findings`,
);
for (const failure of report.failures) {
  console.log(`  ${failure.target}: ${failure.error}\n    input (hex): ${failure.input}`);
}
Deno.exit(report.failures.length ? 1 : 0);
