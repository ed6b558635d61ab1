/**
 * `serve --config FILE` (JSON or TOML): values as the flags take them, flags win, and unknown
 * keys or bad values are refused with exit code 2 and the key's name.
 */
import { assert, assertEquals } from "../_assert.ts";
import { curl, freePort, Program, remoteArgs, runProgram, startOrigin } from "../_harness.ts";
import { LocalFixture, RemoteFixture } from "../_harness.ts";

async function withDir(work: (dir: string) => Promise<void>): Promise<void> {
  const dir = await Deno.makeTempDir({ prefix: "swiftproxy-config-" });
  try {
    const init = await runProgram(remoteArgs("init", "--data", dir));
    assertEquals(init.code, 0, init.stderr);
    await work(dir);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

/** Runs `serve --data DIR --config FILE` expecting a refusal; returns stderr. */
async function refused(dir: string, name: string, text: string): Promise<string> {
  const path = `${dir}/${name}`;
  Deno.writeTextFileSync(path, text);
  const result = await runProgram(remoteArgs("serve", "--data", dir, "--config", path));
  assertEquals(result.code, 2, `exit code for ${name}: ${text}\n${result.stdout}${result.stderr}`);
  return result.stderr;
}

Deno.test("config file: unknown keys are refused with exit 2, naming the key", async () => {
  await withDir(async (dir) => {
    const toml = await refused(
      dir,
      "a.toml",
      `listen = "127.0.0.1:${freePort()}"\nmax-connz = 5\n`,
    );
    assert(toml.includes('unknown key "max-connz"'), toml);
    assert(toml.includes("max-conns"), `the known keys are listed: ${toml}`);
    const json = await refused(
      dir,
      "a.json",
      `{"listen": "127.0.0.1:${freePort()}", "certificate": "x"}`,
    );
    assert(json.includes('unknown key "certificate"'), json);
    const flagOnly = await refused(dir, "b.json", '{"config": "other.toml"}');
    assert(flagOnly.includes('unknown key "config"'), flagOnly);
  });
});

Deno.test("config file: bad values are refused with exit 2, naming the key", async () => {
  await withDir(async (dir) => {
    const cases: [string, string, string][] = [
      ["c1.toml", "max-conns = -1\n", '"max-conns"'],
      ["c2.toml", 'listen = "nowhere"\n', '"listen"'],
      ["c3.toml", 'grace = "soon"\n', '"grace"'],
      ["c4.toml", 'allow-private = "yes"\n', '"allow-private"'],
      ["c5.toml", 'log-level = "chatty"\n', '"log-level"'],
      ["c6.toml", 'deny = ["10.0.0.0/8", "not-a-range"]\n', '"deny"'],
      ["c7.json", '{"handshake_timeout": {"seconds": 5}}', '"handshake_timeout"'],
      ["c8.toml", "listen = \n", "not valid TOML"],
      ["c9.json", "{listen: 1}", "not valid JSON"],
    ];
    for (const [name, text, named] of cases) {
      const stderr = await refused(dir, name, text);
      assert(stderr.includes(named), `${name} (${text.trim()}): expected ${named} in ${stderr}`);
    }
    const missing = await runProgram(
      remoteArgs("serve", "--data", dir, "--config", `${dir}/nope.toml`),
    );
    assertEquals(missing.code, 2);
    assert(missing.stderr.includes("nope.toml"), missing.stderr);
  });
});

Deno.test("config file: values apply, and flags on the command line win", async () => {
  await withDir(async (dir) => {
    const filePort = freePort();
    const flagPort = freePort();
    const path = `${dir}/remote.toml`;
    Deno.writeTextFileSync(
      path,
      [
        `listen = "127.0.0.1:${filePort}"`,
        `allow_private = true`,
        `max-conns = 100`,
        `grace = 1.5`,
        `log-level = "debug"`,
      ].join("\n"),
    );
    const program = new Program(
      remoteArgs("serve", "--data", dir, "--config", path, "--listen", `127.0.0.1:${flagPort}`),
    );
    try {
      const line = await program.waitFor(/listening on (\S+)/);
      assertEquals(line[1], `127.0.0.1:${flagPort}`, "the --listen flag beats the file");
      let fileBound = true;
      try {
        (await Deno.connect({ hostname: "127.0.0.1", port: filePort })).close();
      } catch {
        fileBound = false;
      }
      assert(!fileBound, "the file's listen address was bound too");
      assertEquals((await program.stop()).code, 0);
      assert(
        program.output.includes("open ones get 1.5 s"),
        `grace from the file:\n${program.output}`,
      );
    } finally {
      await program.stop();
    }
  });
});

Deno.test("config file: a JSON file's allow-private lets a real chain reach loopback", async () => {
  const origin = startOrigin();
  const remote = await RemoteFixture.start();
  let local: LocalFixture | undefined;
  try {
    // Restart the fixture's remote from a config file without --allow-private in it…
    await remote.program.stop();
    const path = `${remote.dir}/remote.json`;
    Deno.writeTextFileSync(
      path,
      JSON.stringify({ listen: `127.0.0.1:${remote.port}`, "max-conns": 10 }),
    );
    remote.program = new Program(remoteArgs("serve", "--data", remote.dir, "--config", path));
    await remote.program.waitFor(/listening on/);
    local = await LocalFixture.start(remote);
    const url = `http://127.0.0.1:${origin.port}/`;
    const denied = await curl("--socks5-hostname", local.address, url);
    assert(denied.code !== 0, "a loopback destination was reached without allow-private");
    await local.stop();
    await remote.program.stop();

    // …and with it: the file's value is used.
    Deno.writeTextFileSync(
      path,
      JSON.stringify({ listen: `127.0.0.1:${remote.port}`, "allow-private": true }),
    );
    remote.program = new Program(remoteArgs("serve", "--data", remote.dir, "--config", path));
    await remote.program.waitFor(/listening on/);
    local = await LocalFixture.start(remote);
    const allowed = await curl("--socks5-hostname", local.address, url);
    assertEquals(allowed.code, 0, allowed.stderr);
    assert(new TextDecoder().decode(allowed.body).includes("says hello"));
  } finally {
    await local?.stop();
    await remote.stop();
    await origin.close();
  }
});
