/**
 * The README's quick start, line by line, as a new user types it: `init`, `serve`, `user add`,
 * then the local with the printed link, and a download through it. Only what a test machine
 * must change is changed: a temporary data directory, loopback ports, no ACME (there is no
 * Let's Encrypt here: `acme_test.ts` covers it against pebble), `--allow-private` so the
 * download may come from a loopback origin.
 */
import { assert, assertEquals } from "../_assert.ts";
import {
  curl,
  freePort,
  Program,
  randomBytes,
  remoteArgs,
  ROOT,
  runProgram,
  startOrigin,
} from "../_harness.ts";
import { assertSameBytes } from "../e2e/_e2e.ts";

/** The shell lines of the README section that starts with `heading`. */
function section(heading: string): string[] {
  const readme = Deno.readTextFileSync(`${ROOT}README.md`);
  const start = readme.indexOf(`\n## ${heading}`);
  assert(start >= 0, `README has no section "${heading}"`);
  const body = readme.slice(start + 1).split(/\n## /)[0]!;
  const block = /```sh\n([\s\S]*?)```/.exec(body);
  assert(block, `"${heading}" has no shell block`);
  return block[1]!.split("\n").filter((l) => l.trim() !== "");
}

/** A README line's arguments after the program's name, pointed at this test's machine. */
function argsOf(line: string, data: string, port: number): string[] {
  const words = line.replace(/\s+#.*$/, "").split(/\s+/);
  assertEquals(words[0], "swiftproxy-remote", line);
  const out: string[] = [];
  for (let i = 1; i < words.length; i++) {
    const word = words[i]!;
    if (word === "--acme" || word === "--acme-http") i++; // no ACME server reachable here
    else if (word === "/var/lib/swiftproxy") out.push(data);
    else if (word === "vpn.example.org") out.push("localhost");
    else if (word === "vpn.example.org:443") out.push(`127.0.0.1:${port}`);
    else if (word === "0.0.0.0:443") out.push(`127.0.0.1:${port}`);
    else out.push(word);
  }
  return out;
}

Deno.test("the README's quick start works line by line: a server, a user, the local with the link", async () => {
  const [init, serve, userAdd] = section("A real server");
  const [localLine] = section("The local in one command");
  assert(init && serve && userAdd && localLine, "three server lines and one local line");
  assert(/^SWIFTPROXY_LINK='trojan:\/\/[^']*' swiftproxy-local$/.test(localLine), localLine);

  const started = performance.now();
  const data = await Deno.makeTempDir({ prefix: "swiftproxy-quick-start-" });
  const port = freePort();
  const origin = startOrigin("127.0.0.1");
  let remote: Program | undefined;
  let local: Program | undefined;
  try {
    const made = await runProgram(remoteArgs(...argsOf(init, data, port)));
    assertEquals(made.code, 0, made.stderr);
    remote = new Program(remoteArgs(...argsOf(serve, data, port), "--allow-private"));
    await remote.waitFor(/listening on/);
    const added = await runProgram(remoteArgs(...argsOf(userAdd, data, port)));
    assertEquals(added.code, 0, added.stderr);
    const link = /trojan:\/\/\S+/.exec(added.stdout)?.[0];
    assert(link, added.stdout);
    assert(link.includes(`@127.0.0.1:${port}?`), `the link points at the public address: ${link}`);

    const listen = `127.0.0.1:${freePort()}`;
    local = new Program(
      ["run", "-q", "-P=local", `${ROOT}local.ts`, "--listen", listen, "--no-ui"],
      {
        env: { SWIFTPROXY_LINK: link },
      },
    );
    await local.waitFor(/listening on/);
    const size = 2 * 1024 * 1024 + 5;
    const got = await curl(
      "--socks5-hostname",
      listen,
      `http://127.0.0.1:${origin.port}/bytes/${size}`,
    );
    assertEquals(got.code, 0, got.stderr);
    await assertSameBytes(got.body, randomBytes(size), "download through the quick start");
    console.log(
      `quick start: init to a byte-exact download in ${Math.round(performance.now() - started)} ms`,
    );
  } finally {
    await local?.stop();
    await remote?.stop();
    await origin.close();
    await Deno.remove(data, { recursive: true });
  }
});
