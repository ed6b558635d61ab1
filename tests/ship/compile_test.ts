/**
 * `deno task compile` (scripts/compile.ts): each binary gets exactly the permission set the
 * tests run its program under, never more; a blocked runtime download stops the build with a
 * message naming DENORT_BIN; and both programs answer `--version`.
 */
import { Buffer } from "node:buffer";
import { assert, assertEquals } from "../_assert.ts";
import { localArgs, remoteArgs, ROOT, runProgram } from "../_harness.ts";
import { VERSION } from "../../lib/version.ts";
import { compileArgs, geoIpFiles, outputName, PROGRAMS, TARGETS } from "../../scripts/compile.ts";
import type { ProgramSpec, Target } from "../../scripts/compile.ts";

const WIDE = /^(-A|--allow-all|--allow-[a-z-]+(=.*)?|-[RWNESI](=.*)?|--unstable.*|--no-prompt)$/;

Deno.test("compile: each program is built with its deno.json permission set and nothing wider", () => {
  const harness: Record<string, string[]> = { "local.ts": localArgs(), "remote.ts": remoteArgs() };
  for (const program of PROGRAMS) {
    const testedWith = harness[program.entry]!.find((a) => a.startsWith("-P="));
    for (const target of TARGETS) {
      const args = compileArgs(program, target, "dist");
      const where = `${program.name} for ${target}: ${args.join(" ")}`;
      assertEquals(args[0], "compile", where);
      assertEquals(args.filter((a) => a.startsWith("-P=")), [testedWith], where);
      assertEquals(args.filter((a) => WIDE.test(a)), [], where);
      assertEquals(args.at(-1), program.entry, where);
      assertEquals(args[args.indexOf("--target") + 1], target, where);
      const output = args[args.indexOf("--output") + 1] ?? "";
      assertEquals(output, `dist/${outputName(program, target)}`, where);
      assert(output.endsWith(target.includes("windows") ? `${target}.exe` : target), where);
    }
  }
  assertEquals(
    PROGRAMS.map((p) => outputName(p, "x86_64-pc-windows-msvc" as Target)),
    ["swiftproxy-local-x86_64-pc-windows-msvc.exe", "swiftproxy-remote-x86_64-pc-windows-msvc.exe"],
  );
  // The sets themselves stay narrow: no "all", no subprocesses, no native libraries.
  const config = JSON.parse(Deno.readTextFileSync(`${ROOT}deno.json`));
  for (const set of ["local", "remote"]) {
    const permissions = config.permissions[set];
    assert(permissions, `deno.json has no "${set}" permission set`);
    for (const wide of ["all", "run", "ffi", "import"]) {
      assert(!permissions[wide], `the "${set}" permission set grants ${wide}`);
    }
  }
  // UDP uses Deno.listenDatagram (lib/common/udp/udp_socket.ts): the unstable net API, enabled in
  // deno.json, which `deno run` (tasks, harness) and `deno compile` both read, and nothing more.
  assertEquals(config.unstable, ["net"]);
});

Deno.test("--version: both programs print the version and exit 0", async () => {
  for (const args of [remoteArgs("--version"), localArgs("--version")]) {
    const result = await runProgram(args);
    assertEquals(result.code, 0, result.stderr);
    assertEquals(result.stdout.trim(), VERSION);
  }
});

/** The environment compile.ts would see on a clean machine, plus `extra`. */
function buildEnv(extra: Record<string, string>): Record<string, string> {
  const env: Record<string, string> = { NO_COLOR: "1", ...extra };
  for (const name of ["PATH", "HOME", "DENO_DIR", "XDG_CACHE_HOME"]) {
    const value = Deno.env.get(name);
    if (value !== undefined) env[name] = value;
  }
  return env;
}

async function compile(args: string[], env: Record<string, string>) {
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["run", "-P=compile", `${ROOT}scripts/compile.ts`, ...args],
    cwd: ROOT,
    clearEnv: true,
    env: buildEnv(env),
    stdin: "null",
  }).output();
  const text = new TextDecoder();
  return { code: out.code, stdout: text.decode(out.stdout), stderr: text.decode(out.stderr) };
}

Deno.test("compile: when denort cannot be downloaded, it stops with a message naming DENORT_BIN", async () => {
  const out = await Deno.makeTempDir({ prefix: "swiftproxy-dist-" });
  // Every download goes to a closed loopback port, as on a network that blocks dl.deno.land.
  const closed = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const proxy = `http://127.0.0.1:${closed.addr.port}`;
  closed.close();
  try {
    const result = await compile(["--target", "aarch64-apple-darwin", "--out", out], {
      HTTPS_PROXY: proxy,
      HTTP_PROXY: proxy,
    });
    assertEquals(result.code, 1, result.stdout + result.stderr);
    assert(result.stderr.includes("DENORT_BIN"), result.stderr);
    assert(result.stderr.includes("denort"), result.stderr);
    assertEquals([...Deno.readDirSync(out)], [], "nothing is left in the output directory");

    const missing = await compile(["--out", out], { DENORT_BIN: `${out}/no-such-denort` });
    assertEquals(missing.code, 1);
    assert(missing.stderr.includes("DENORT_BIN"), missing.stderr);
  } finally {
    await Deno.remove(out, { recursive: true });
  }
});

/**
 * One build of both programs for this platform, with the deno binary standing in for denort
 * (denort is deno without its dev tools): this checks that `deno compile` takes the exact
 * arguments, not the compiled programs. Two tests read it; a build takes seconds of CPU each.
 */
let build: Promise<{ out: string; result: Awaited<ReturnType<typeof compile>> }> | undefined;
function built() {
  return build ??= (async () => {
    const out = await Deno.makeTempDir({ prefix: "swiftproxy-dist-" });
    globalThis.addEventListener("unload", () => Deno.removeSync(out, { recursive: true }));
    const target = Deno.build.target as Target;
    const result = await compile(["--target", target, "--out", out], {
      DENORT_BIN: Deno.execPath(),
    });
    return { out, result };
  })();
}

Deno.test("compile: with DENORT_BIN it builds both programs, prints sizes, writes SHA256SUMS", async () => {
  const { out, result } = await built();
  const target = Deno.build.target as Target;
  assertEquals(result.code, 0, result.stdout + result.stderr);
  const sums = Deno.readTextFileSync(`${out}/SHA256SUMS`).trim().split("\n");
  assertEquals(sums.length, 2);
  for (const program of PROGRAMS) {
    const name = outputName(program, target);
    const bytes = await Deno.readFile(`${out}/${name}`);
    assert(bytes.length > 1_000_000, `${name} is ${bytes.length} bytes`);
    assert(new RegExp(`${name}\\s+[\\d.]+ [KMG]i?B`).test(result.stdout), result.stdout);
    // the metadata after the runtime enables the unstable net API, so the binary can do UDP
    const runtime = Deno.statSync(Deno.execPath()).size;
    const metadata = new TextDecoder("latin1").decode(bytes.subarray(runtime));
    assert(/"unstable_config":\{[^}]*"features":\["net"\]/.test(metadata), `${name}: no UDP`);
    const digest = new Uint8Array(await crypto.subtle.digest("SHA-256", bytes));
    const hex = Array.from(digest, (b) => b.toString(16).padStart(2, "0")).join("");
    assert(sums.includes(`${hex}  ${name}`), `SHA256SUMS lacks ${name}: ${sums}`);
  }
});

Deno.test("compile: swiftproxy-local carries the dashboard's page files byte for byte, and only the GeoIP files it reads", async () => {
  const { out, result } = await built();
  assertEquals(result.code, 0, result.stdout + result.stderr);
  const program = PROGRAMS.find((p) => p.name === "swiftproxy-local")!;
  const target = Deno.build.target as Target;
  const binary = Buffer.from(await Deno.readFile(`${out}/${outputName(program, target)}`));
  for (
    const file of [
      "lib/local/dashboard/assets/index.html",
      "lib/local/dashboard/assets/app.js",
      "lib/local/dashboard/assets/app.css",
      "lib/common/ops/format_bytes.js",
    ]
  ) {
    const bytes = await Deno.readFile(`${ROOT}${file}`);
    assert(binary.indexOf(bytes) >= 0, `the binary lacks ${file}`);
  }
  // The GeoIP files the local reads are in, the package's other forms of the data are not
  // (each recognised by its first 64 KiB, which no other file holds).
  const { read, unread } = geoIpFiles();
  const head = async (path: string) => (await Deno.readFile(path)).subarray(0, 65536);
  for (const path of read) assert(binary.indexOf(await head(path)) >= 0, `lacks ${path}`);
  for (const path of unread) assert(binary.indexOf(await head(path)) < 0, `carries ${path}`);
});

Deno.test("compile: the local carries the GeoIP files geoip.ts reads and leaves out the package's other CSVs", async () => {
  const { read, unread } = geoIpFiles();
  const [localProgram, remoteProgram] = PROGRAMS as [ProgramSpec, ProgramSpec];
  const local = compileArgs(localProgram, "x86_64-unknown-linux-gnu", "dist");
  const after = (flag: string) => local.flatMap((a, i) => a === flag ? [local[i + 1]!] : []);
  assertEquals(after("--include"), read);
  assertEquals(after("--exclude"), unread);
  const names = (paths: string[]) => paths.map((p) => p.split("/").at(-1));
  assertEquals(names(read), [
    "geo-whois-asn-country-ipv4-num.csv",
    "geo-whois-asn-country-ipv6.csv",
  ]);
  assertEquals(names(unread), [
    "geo-whois-asn-country-ipv4.csv",
    "geo-whois-asn-country-ipv6-num.csv",
  ]);
  // What the build carries is what the database loads: the files read are these.
  for (const path of read) assert((await Deno.stat(path)).size > 1_000_000, path);
  const remote = compileArgs(remoteProgram, "x86_64-unknown-linux-gnu", "dist");
  assert(!remote.includes("--include") && !remote.includes("--exclude"), remote.join(" "));
});
