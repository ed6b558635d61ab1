/**
 * `deno task test [PATH…]`: the suite (default `tests/`), six files at a time, inside a network
 * namespace of its own where only loopback exists (`unshare -n`, as the benchmarks run), so
 * nothing a test starts leaves the machine: not a browser's background requests, not a plain
 * Trojan server or V2Ray resolving the name of the local's account check. Dependencies are
 * fetched and the tests type-checked first, outside it. Where no namespace can be made (not
 * root, no `unshare` or `ip`), the suite runs here, as before.
 */

const paths = Deno.args.length > 0 ? Deno.args : ["tests/"];
const deno = Deno.execPath();

/** Runs `command` with `args`, output shown as it comes; its exit code. */
async function run(command: string, args: string[], env: Record<string, string> = {}) {
  const child = new Deno.Command(command, { args, env, stdin: "null" }).spawn();
  return (await child.status).code;
}

/** Whether this process may make a network namespace and bring its loopback up. */
async function canIsolate(): Promise<boolean> {
  const probe = await new Deno.Command("unshare", {
    args: ["-n", "ip", "link", "set", "lo", "up"],
    stdout: "null",
    stderr: "null",
  }).output().catch(() => null);
  return probe?.success ?? false;
}

const prepared = await run(deno, ["test", "--no-run", "-q", "-P=test", ...paths]);
if (prepared !== 0) Deno.exit(prepared);

const test = [deno, "test", "-q", "-P=test", "--parallel", ...paths];
const isolated = await canIsolate();
// SWIFTPROXY_TEST_NETNS tells tests/ship/loopback_only_test.ts what to expect.
const env = {
  DENO_JOBS: Deno.env.get("DENO_JOBS") ?? "6",
  SWIFTPROXY_TEST_NETNS: isolated ? "1" : "0",
};
Deno.exit(
  isolated
    ? await run("unshare", ["-n", "sh", "-c", 'ip link set lo up && exec "$@"', "sh", ...test], env)
    : await run(test[0]!, test.slice(1), env),
);
