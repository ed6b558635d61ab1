/**
 * The remote's admin commands as an admin meets them: password floor and where a password may
 * come from, the last day of access, a read-only or damaged data directory, and messages that
 * say what was expected and what came.
 */
import { assert, assertEquals } from "../_assert.ts";
import { remoteArgs, ROOT, runProgram } from "../_harness.ts";
import { storedUsers } from "./_e2e.ts";

type Run = { code: number; stdout: string; stderr: string };

async function remote(data: string, args: string[], options: {
  env?: Record<string, string>;
  stdin?: string;
} = {}): Promise<Run> {
  const child = new Deno.Command(Deno.execPath(), {
    args: remoteArgs(...args, "--data", data),
    cwd: ROOT,
    env: { NO_COLOR: "1", ...options.env },
    stdin: options.stdin === undefined ? "null" : "piped",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  if (options.stdin !== undefined) {
    const writer = child.stdin.getWriter();
    await writer.write(new TextEncoder().encode(options.stdin));
    await writer.close();
  }
  const out = await child.output();
  const text = new TextDecoder();
  return { code: out.code, stdout: text.decode(out.stdout), stderr: text.decode(out.stderr) };
}

async function users(data: string): Promise<{ name: string; expiresAt: string | null }[]> {
  const out = await remote(data, ["user", "list", "--json"]);
  assertEquals(out.code, 0, out.stderr);
  return JSON.parse(out.stdout);
}

async function withData(work: (data: string) => Promise<void>): Promise<void> {
  const dir = await Deno.makeTempDir({ prefix: "swiftproxy-remote-cli-" });
  try {
    const init = await remote(`${dir}/data`, ["init"]);
    assertEquals(init.code, 0, init.stderr);
    await work(`${dir}/data`);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

Deno.test("passwords: under 8 characters refused with exit 2 and nothing written; stdin and SWIFTPROXY_PASSWORD work", async (t) => {
  await withData(async (data) => {
    const cases: [string, string[], { env?: Record<string, string>; stdin?: string }, string][] = [
      ["add --password ''", ["user", "add", "bob", "--password", ""], {}, "--password"],
      ["add --password x", ["user", "add", "bob", "--password", "x"], {}, "--password"],
      ["add --password - (short)", ["user", "add", "bob", "--password", "-"], {
        stdin: "short\n",
      }, "standard input"],
      ["add with a short SWIFTPROXY_PASSWORD", ["user", "add", "bob"], {
        env: { SWIFTPROXY_PASSWORD: "1234567" },
      }, "SWIFTPROXY_PASSWORD"],
    ];
    for (const [name, args, options, names] of cases) {
      await t.step(name, async () => {
        const out = await remote(data, args, options);
        assertEquals(out.code, 2, out.stderr);
        assert(out.stderr.includes(names), `does not name ${names}: ${out.stderr}`);
        assert(out.stderr.includes("at least 8 characters"), out.stderr);
        assertEquals((await storedUsers(data)).map((u) => u.name), []);
      });
    }
    await t.step("passwd --password '' is refused too", async () => {
      assertEquals((await remote(data, ["user", "add", "carol"])).code, 0);
      const out = await remote(data, ["user", "passwd", "carol", "--password", ""]);
      assertEquals(out.code, 2, out.stderr);
      assert(out.stderr.includes("--password"), out.stderr);
    });
    await t.step("from standard input and from SWIFTPROXY_PASSWORD, never printed", async () => {
      const piped = await remote(data, ["user", "add", "dave", "--password", "-"], {
        stdin: "dave-from-stdin\n",
      });
      assertEquals(piped.code, 0, piped.stderr);
      assert(!piped.stdout.includes("dave-from-stdin"), piped.stdout);
      const env = await remote(data, ["user", "add", "erin"], {
        env: { SWIFTPROXY_PASSWORD: "erin-from-env" },
      });
      assertEquals(env.code, 0, env.stderr);
      assert(!env.stdout.includes("erin-from-env") && !env.stdout.includes("shown once"));
    });
    await t.step(
      "help says a generated one is better and where else it may come from",
      async () => {
        const help = (await remote(data, ["user", "add", "--help"])).stdout.replace(/\s+/g, " ");
        for (const words of ["at least 8 characters", "standard input", "SWIFTPROXY_PASSWORD"]) {
          assert(help.includes(words), `help lacks "${words}": ${help}`);
        }
        assert(/generated/.test(help), help);
      },
    );
  });
});

Deno.test("--expires DATE is the last day of access, through 24:00 UTC; impossible dates are refused", async () => {
  await withData(async (data) => {
    const today = new Date().toISOString().slice(0, 10);
    const add = await remote(data, ["user", "add", "bob", "--expires", today]);
    assertEquals(add.code, 0, add.stderr);
    const [bob] = await users(data);
    assertEquals(bob!.expiresAt, `${today}T23:59:59.999Z`);
    const list = await remote(data, ["user", "list"]);
    assert(/bob\s+active/.test(list.stdout), `bob is not active on his last day: ${list.stdout}`);

    for (const impossible of ["2027-02-31", "2027-13-01", "2027-00-10", "2027-04-31"]) {
      const out = await remote(data, ["user", "set", "bob", "--expires", impossible]);
      assertEquals(out.code, 2, out.stderr);
      assert(out.stderr.includes("--expires") && out.stderr.includes("2027-01-01"), out.stderr);
      assertEquals((await storedUsers(data))[0]!.expiresAt, Date.parse(`${today}T23:59:59.999Z`));
    }
    const help = (await remote(data, ["user", "add", "--help"])).stdout.replace(/\s+/g, " ");
    assert(help.includes("last day of access, through 24:00 UTC"), help);
  });
});

Deno.test("serve: a read-only data directory and a damaged users.db get a clear error, exit 1, no stack trace", async () => {
  const dir = await Deno.makeTempDir({ prefix: "swiftproxy-remote-cli-" });
  const readOnly = `${dir}/read-only`;
  // chmod alone does not stop root; chattr +i does (where the file system has it).
  const immutable = async (on: boolean) => {
    await new Deno.Command("chattr", { args: [on ? "+i" : "-i", readOnly] }).output()
      .catch(() => {});
  };
  try {
    await Deno.mkdir(readOnly, { mode: 0o555 });
    await Deno.chmod(readOnly, 0o555);
    if (Deno.uid() === 0) await immutable(true);
    const out = await runProgram(
      remoteArgs("serve", "--init", "--data", readOnly, "--listen", ":1"),
    );
    assertEquals(out.code, 1, out.stderr);
    assert(out.stderr.includes("must be writable"), out.stderr);
    assert(!/\bat \S+\.ts:\d+/.test(out.stderr) && !out.stderr.includes("Uncaught"), out.stderr);

    const damaged = `${dir}/damaged`;
    assertEquals((await runProgram(remoteArgs("init", "--data", damaged))).code, 0);
    assertEquals(
      (await runProgram(remoteArgs("user", "add", "alice", "--data", damaged))).code,
      0,
    );
    const file = await Deno.open(`${damaged}/users.db`, { write: true });
    await file.seek(4096, Deno.SeekMode.Start);
    await file.write(new Uint8Array(3000).fill(0xff).map((b, i) => i % 3 === 0 ? 0x0d : b));
    file.close();
    for (const args of [["serve", "--listen", "127.0.0.1:1"], ["user", "list"]]) {
      const broken = await runProgram(remoteArgs(...args, "--data", damaged));
      assertEquals(broken.code, 1, broken.stderr);
      assert(broken.stderr.includes("is damaged"), broken.stderr);
      assert(!broken.stderr.includes("cannot listen"), broken.stderr);
      assert(!broken.stderr.includes("Uncaught"), broken.stderr);
    }
  } finally {
    if (Deno.uid() === 0) await immutable(false);
    await Deno.chmod(readOnly, 0o755).catch(() => {});
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("CLI words: the help hint names the command, arguments and --listen say what was expected", async () => {
  await withData(async (data) => {
    const bad = await remote(data, ["user", "add", "bad name"]);
    assertEquals(bad.code, 2);
    assert(!bad.stderr.includes("command-argument value"), bad.stderr);
    assert(bad.stderr.includes('invalid <name> "bad name": expected a user name'), bad.stderr);
    assert(bad.stderr.includes('(see "swiftproxy-remote user add --help"'), bad.stderr);
    assert(!bad.stderr.includes("(add --help"), bad.stderr);

    const listen = await runProgram(remoteArgs("serve", "--data", data, "--listen", "nonsense"));
    assertEquals(listen.code, 2);
    assert(
      listen.stderr.includes("0.0.0.0:8443") && !listen.stderr.includes("1080"),
      listen.stderr,
    );

    assertEquals((await remote(data, ["user", "add", "bob"])).code, 0);
    const first = await remote(data, ["user", "disable", "bob"]);
    assert(first.stdout.startsWith("disabled bob: new connections are refused"), first.stdout);
    const second = await remote(data, ["user", "disable", "bob"]);
    assertEquals(second.stdout.trim(), "bob is already disabled");
    const enable = await remote(data, ["user", "enable", "bob"]);
    assert(enable.stdout.startsWith("enabled bob"), enable.stdout);
    const nobody = await remote(data, ["user", "disable", "nobody"]);
    assertEquals(nobody.code, 1);
    assert(nobody.stderr.includes('no user named "nobody"'), nobody.stderr);
  });
});
