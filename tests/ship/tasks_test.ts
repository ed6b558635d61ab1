/** The `deno task` entry points a new user runs print their own output and no runtime notice. */
import { assert, assertEquals } from "../_assert.ts";
import { ROOT } from "../_harness.ts";

async function task(...args: string[]): Promise<{ code: number; output: string }> {
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["task", ...args],
    cwd: ROOT,
    env: { NO_COLOR: "1" },
    stdin: "null",
  }).output();
  const text = new TextDecoder();
  return { code: out.code, output: text.decode(out.stdout) + text.decode(out.stderr) };
}

for (const program of ["local", "remote"]) {
  Deno.test(`deno task ${program} --help prints the help and no "experimental" warning`, async () => {
    const { code, output } = await task(program, "--help");
    assertEquals(code, 0, output);
    assert(output.includes(`Usage: swiftproxy-${program}`), output);
    assert(!/experimental feature/i.test(output), `a runtime notice in:\n${output}`);
  });
}
