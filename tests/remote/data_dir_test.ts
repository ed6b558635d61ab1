/**
 * `serve --data` names a directory `init` made: a typo is refused (naming the full path), not
 * served as a new, empty server; `--init` makes one on purpose. Relative paths mean the folder
 * the command was typed in, also under `deno task` (which runs the program in the project's
 * folder).
 */
import { assert, assertEquals } from "../_assert.ts";
import { freePort, Program, remoteArgs, ROOT } from "../_harness.ts";

/** Runs `serve ARGS` on a free port until it refuses or listens (then stops it). */
async function serveOnce(...args: string[]): Promise<{ code: number; stderr: string }> {
  const server = new Program(
    remoteArgs("serve", ...args, "--listen", `127.0.0.1:${freePort()}`),
  );
  const said = await server.waitFor(/not a data directory|listening on/).catch(() => null);
  // A refusal exits by itself right after its line: a SIGTERM sent then would be the code seen
  // (143, once in CI). A server that listens is stopped.
  if (said?.[0] === "not a data directory") {
    let timer: ReturnType<typeof setTimeout> | undefined;
    await Promise.race([
      server.status,
      new Promise((resolve) => timer = setTimeout(resolve, 10_000)),
    ]);
    clearTimeout(timer);
  }
  const { code } = await server.stop();
  return { code, stderr: server.output };
}

function exists(path: string): boolean {
  try {
    Deno.statSync(path);
    return true;
  } catch {
    return false;
  }
}

Deno.test("serve refuses a data directory init did not make, unless --init", async () => {
  const dir = await Deno.makeTempDir({ prefix: "swiftproxy-datadir-" });
  try {
    const typo = `${dir}/swiftproxy-dta`;
    const refused = await serveOnce("--data", typo);
    assertEquals(refused.code, 1, refused.stderr);
    assert(refused.stderr.includes(`${typo} is not a data directory made by init`), refused.stderr);
    assert(refused.stderr.includes("serve --init"), refused.stderr);
    assert(!exists(typo), "nothing was created");
    // An empty folder is no data directory either.
    Deno.mkdirSync(typo);
    assertEquals((await serveOnce("--data", typo)).code, 1);

    const server = new Program(
      remoteArgs("serve", "--init", "--data", typo, "--listen", `127.0.0.1:${freePort()}`),
    );
    try {
      await server.waitFor(/listening on/);
      assert(exists(`${typo}/users.db`) && exists(`${typo}/tls/cert.pem`), "--init made it");
    } finally {
      assertEquals((await server.stop()).code, 0);
    }
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("under deno task, relative paths resolve from where the command was typed", async () => {
  const typed = await Deno.makeTempDir({ prefix: "swiftproxy-typed-" });
  const name = `swiftproxy-typed-${crypto.randomUUID().slice(0, 8)}`;
  // What a shell gives `deno task`: no INIT_CWD of its own (the test runner's would stay).
  const env = Deno.env.toObject();
  delete env.INIT_CWD;
  const task = async (...args: string[]) => {
    const out = await new Deno.Command(Deno.execPath(), {
      args: ["task", "-q", "--config", `${ROOT}deno.json`, "remote", ...args],
      cwd: typed,
      env,
      clearEnv: true,
      stdin: "null",
    }).output();
    const text = new TextDecoder();
    return { code: out.code, stdout: text.decode(out.stdout), stderr: text.decode(out.stderr) };
  };
  try {
    const init = await task("init", "--data", name);
    assertEquals(init.code, 0, init.stderr);
    assert(exists(`${typed}/${name}/users.db`), "init made the directory where it was typed");
    assert(!exists(`${ROOT}${name}`), "not in the project's folder");
    // A later command typed in the same folder finds it there.
    const listed = await task("user", "list", "--data", name);
    assertEquals(listed.code, 0, listed.stderr);
  } finally {
    await Deno.remove(typed, { recursive: true });
    await Deno.remove(`${ROOT}${name}`, { recursive: true }).catch(() => {});
  }
});
