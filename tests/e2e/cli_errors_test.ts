/**
 * Bad command-line values: both programs exit 2 with a message naming the option, and
 * nothing is written (the users database lists the same, no data dir or settings appear).
 */
import { assert, assertEquals } from "../_assert.ts";
import { localArgs, remoteArgs, runProgram } from "../_harness.ts";
import { storedUsers } from "./_e2e.ts";

async function exists(path: string): Promise<boolean> {
  return await Deno.stat(path).then(() => true, () => false);
}

Deno.test("bad CLI values exit 2, name the option, and write nothing", async (t) => {
  const dir = await Deno.makeTempDir({ prefix: "swiftproxy-e2e-cli-" });
  const data = `${dir}/data`;
  try {
    const init = await runProgram(remoteArgs("init", "--data", data));
    assertEquals(init.code, 0, init.stderr);
    const add = await runProgram(
      remoteArgs("user", "add", "alice", "--password", "alice-secret", "--data", data),
    );
    assertEquals(add.code, 0, add.stderr);
    // Read in this process: the failing command is the CLI under test here.
    const list = async () => JSON.stringify(await storedUsers(data));
    const before = await list();
    assert(before.includes('"alice"'), `alice is not listed: ${before}`);

    const cases: [string, string[], string][] = [
      ["user add --up 2xx", ["user", "add", "bob", "--up", "2xx"], "--up"],
      ["user add --down fast", ["user", "add", "bob", "--down", "fast"], "--down"],
      ["user add --quota 5parsecs", ["user", "add", "bob", "--quota", "5parsecs"], "--quota"],
      ["user add --expires tomorrow", ["user", "add", "bob", "--expires", "tomorrow"], "--expires"],
      ["user add --max-conns -3", ["user", "add", "bob", "--max-conns", "-3"], "--max-conns"],
      ["user set --up 2xx", ["user", "set", "alice", "--up", "2xx"], "--up"],
      ["user set --quota 1.2.3GB", ["user", "set", "alice", "--quota", "1.2.3GB"], "--quota"],
      // A number without a unit below 1 KiB is a unit left out (0.5 MiB/s meant, not 1 B/s).
      ["user add --up 0.5", ["user", "add", "bob", "--up", "0.5"], "--up"],
      ["user set --down 100", ["user", "set", "alice", "--down", "100"], "--down"],
      ["user set --quota 1000", ["user", "set", "alice", "--quota", "1000"], "--quota"],
    ];
    for (const [name, args, option] of cases) {
      await t.step(`${name}: exit 2, names ${option}, database unchanged`, async () => {
        const out = await runProgram(remoteArgs(...args, "--data", data));
        assertEquals(out.code, 2, `exit code; stderr: ${out.stderr}`);
        assert(out.stderr.includes(option), `stderr does not name ${option}: ${out.stderr}`);
        assertEquals(await list(), before);
      });
    }

    await t.step("serve --listen nonsense: exit 2, names --listen, no data dir", async () => {
      const fresh = `${dir}/never-created`;
      const out = await runProgram(remoteArgs("serve", "--data", fresh, "--listen", "nonsense"));
      assertEquals(out.code, 2, `exit code; stderr: ${out.stderr}`);
      assert(out.stderr.includes("--listen"), `stderr does not name --listen: ${out.stderr}`);
      assert(!(await exists(fresh)), "serve created the data dir despite the bad value");
      assertEquals(await list(), before);
    });

    await t.step("local --listen :99999: exit 2, names --listen, no settings file", async () => {
      const settings = `${dir}/local-settings.json`;
      const out = await runProgram(
        localArgs(
          "--listen",
          ":99999",
          "--remote",
          "127.0.0.1:8443",
          "--user",
          "alice",
          "--no-ui",
          "--config",
          settings,
        ),
        { env: { SWIFTPROXY_PASSWORD: "alice-secret" } },
      );
      assertEquals(out.code, 2, `exit code; stderr: ${out.stderr}`);
      assert(out.stderr.includes("--listen"), `stderr does not name --listen: ${out.stderr}`);
      assert(!out.stderr.includes("alice-secret"), "the password was printed");
      assert(!(await exists(settings)), "the local wrote its settings file");
    });

    await t.step("local --remote without a port: exit 2, names --remote", async () => {
      const out = await runProgram(
        localArgs("--remote", "example.org", "--user", "alice", "--no-ui", "--config", `${dir}/x`),
        { env: { SWIFTPROXY_PASSWORD: "alice-secret" } },
      );
      assertEquals(out.code, 2, `exit code; stderr: ${out.stderr}`);
      assert(out.stderr.includes("--remote"), `stderr does not name --remote: ${out.stderr}`);
      // The example is a remote's address, not the local's own 127.0.0.1:1080.
      assert(out.stderr.includes("vpn.example.org:8443"), `no remote example: ${out.stderr}`);
      assert(!out.stderr.includes("1080"), `the local's address as the example: ${out.stderr}`);
    });
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("--help shows defaults as they are typed: seconds and host:port", async () => {
  const remote = await runProgram(remoteArgs("serve", "--help"));
  assertEquals(remote.code, 0, remote.stderr);
  const local = await runProgram(localArgs("--help"));
  assertEquals(local.code, 0, local.stderr);
  /** One option's entry in a help text: its line and the indented lines that continue it. */
  const entry = (help: string, option: string) => {
    const lines = help.split("\n");
    const at = lines.findIndex((line) => line.trimStart().startsWith(`${option} `));
    const rest = lines.slice(at + 1);
    const end = rest.findIndex((line) => !/^ {20,}/.test(line));
    return at < 0 ? "" : [lines[at], ...rest.slice(0, end)].join(" ").replace(/\s+/g, " ");
  };
  const expected: [string, string, string][] = [
    [remote.stdout, "--listen", "0.0.0.0:8443"],
    [remote.stdout, "--handshake-timeout", "10"],
    [remote.stdout, "--idle-timeout", "300"],
    [remote.stdout, "--auth-cool-off", "600"],
    [remote.stdout, "--grace", "10"],
    [local.stdout, "--listen", "127.0.0.1:1080"],
    [local.stdout, "--handshake-timeout", "10"],
    [local.stdout, "--ui", "127.0.0.1:9090"],
  ];
  for (const [help, option, value] of expected) {
    const shown = entry(help, option);
    assert(
      shown.endsWith(`(default: ${value})`),
      `${option} should end "(default: ${value})": ${shown}`,
    );
  }
});
