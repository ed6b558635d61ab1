/**
 * `deno task compile`: builds `swiftproxy-local` and `swiftproxy-remote` for every release
 * target into `dist/`, each with its permission set from deno.json (`-P=local`, `-P=remote`:
 * the same sets the tests run the programs under), then prints the sizes and writes
 * `dist/SHA256SUMS`. deno.json's `"unstable": ["net"]` (UDP through `Deno.listenDatagram`) is
 * read by `deno compile` too and embedded in each binary, so no `--unstable-net` flag is needed.
 *
 * ```sh
 * deno task compile                                   # all targets
 * deno task compile --target x86_64-unknown-linux-gnu # one (repeatable)
 * DENORT_BIN=/path/to/denort deno task compile --target x86_64-unknown-linux-gnu
 * ```
 *
 * `deno compile` downloads the runtime (`denort`) of each target from dl.deno.land. Where that
 * is blocked, DENORT_BIN names a denort binary to use instead (one target's runtime, so one
 * target per run).
 */
import { parseArgs } from "node:util";
import { basename, dirname, join, relative, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { formatBytes } from "../lib/common/ops/units.ts";
import { GEOIP_FILES, GEOIP_PACKAGE } from "../lib/rules/geoip.ts";

/** The targets a release ships. */
export const TARGETS = [
  "x86_64-unknown-linux-gnu",
  "aarch64-unknown-linux-gnu",
  "x86_64-apple-darwin",
  "aarch64-apple-darwin",
  "x86_64-pc-windows-msvc",
] as const;

/** One of {@linkcode TARGETS}. */
export type Target = typeof TARGETS[number];

/** A program to compile: its name, entry module and deno.json permission set. */
export interface ProgramSpec {
  name: string;
  entry: string;
  permissionSet: string;
  /** It reads the GeoIP database (`GEOIP` rules): its files go in, the unread ones do not. */
  geoIp?: boolean;
}

/** Both programs. */
export const PROGRAMS: readonly ProgramSpec[] = [
  { name: "swiftproxy-local", entry: "local.ts", permissionSet: "local", geoIp: true },
  { name: "swiftproxy-remote", entry: "remote.ts", permissionSet: "remote" },
];

const ROOT = fileURLToPath(new URL("../", import.meta.url));

/**
 * The file name of a program built for a target.
 *
 * @example outputName(PROGRAMS[0], "x86_64-pc-windows-msvc") // "swiftproxy-local-x86_64-pc-windows-msvc.exe"
 */
export function outputName(program: ProgramSpec, target: Target): string {
  return `${program.name}-${target}${target.includes("windows") ? ".exe" : ""}`;
}

/**
 * The GeoIP package's CSV files in the npm cache: those `lib/rules/geoip.ts` reads (about
 * 20 MB) and the rest, the same data in other forms (about 28 MB), which no program reads.
 *
 * @example geoIpFiles().unread // [".../geo-whois-asn-country-ipv4.csv", ".../…-ipv6-num.csv"]
 */
export function geoIpFiles(): { read: string[]; unread: string[] } {
  const read = GEOIP_FILES.map((file) => fileURLToPath(import.meta.resolve(file)));
  const dir = dirname(fileURLToPath(import.meta.resolve(`${GEOIP_PACKAGE}/package.json`)));
  const unread = [...Deno.readDirSync(dir)]
    .filter((entry) => entry.isFile && entry.name.endsWith(".csv"))
    .map((entry) => join(dir, entry.name))
    .filter((path) => !read.includes(path))
    .sort();
  return { read, unread };
}

/**
 * The `deno` arguments that build `program` for `target` into `outDir`: the program's
 * permission set and nothing wider, and the npm packages it imports. Files imported as text
 * or JSON (the pages, their scripts, the language catalogues) are embedded by following
 * imports, as modules are; tests/ship/embedded_assets_test.ts checks that every such file in
 * lib/ is reached from the program that serves it. The GeoIP files the local reads are named
 * with `--include` all the same (it reads them as files first), and the package's unread ones
 * are left out with `--exclude`.
 *
 * @example new Deno.Command(Deno.execPath(), { args: compileArgs(PROGRAMS[1], TARGETS[0], "dist") })
 */
export function compileArgs(
  program: ProgramSpec,
  target: Target,
  outDir: string,
): string[] {
  return [
    "compile",
    `-P=${program.permissionSet}`,
    "--exclude-unused-npm",
    ...(program.geoIp ? geoIpArgs() : []),
    "--target",
    target,
    "--output",
    join(outDir, outputName(program, target)),
    program.entry,
  ];
}

function geoIpArgs(): string[] {
  const { read, unread } = geoIpFiles();
  return [
    ...read.flatMap((path) => ["--include", path]),
    ...unread.flatMap((path) => ["--exclude", path]),
  ];
}

/** Thrown to stop the build with a message for the user. */
class BuildError extends Error {}

const DOWNLOAD_FAILED = /dl\.deno\.land|denort|Setting up base binary|error sending request/i;

function denortAdvice(target: Target): string {
  return [
    `deno compile could not download the Deno runtime (denort) for ${target} from dl.deno.land.`,
    `On a machine that cannot reach it, set DENORT_BIN to the path of a denort binary for that`,
    `target and this Deno version (denort-${target}.zip of Deno ${Deno.version.deno} on`,
    `https://github.com/denoland/deno/releases), one target per run:`,
    `  DENORT_BIN=/path/to/denort deno task compile --target ${target}`,
    `Release builds run in .github/workflows/release.yml, where the download works.`,
  ].join("\n");
}

async function build(program: ProgramSpec, target: Target, outDir: string) {
  const out = await new Deno.Command(Deno.execPath(), {
    args: compileArgs(program, target, outDir),
    cwd: ROOT,
    env: { NO_COLOR: "1" },
    stdout: "piped",
    stderr: "piped",
  }).output();
  if (out.success) return;
  const text = new TextDecoder().decode(out.stderr) + new TextDecoder().decode(out.stdout);
  if (!Deno.env.get("DENORT_BIN") && DOWNLOAD_FAILED.test(text)) {
    throw new BuildError(`${denortAdvice(target)}\n\ndeno said:\n${lastLines(text, 6)}`);
  }
  throw new BuildError(`deno compile failed for ${outputName(program, target)}:\n${text}`);
}

function lastLines(text: string, n: number): string {
  const lines = text.split("Stack backtrace")[0]!.trimEnd().split("\n").filter((l) => l.trim());
  return lines.slice(-n).map((line) => `  ${line.trim()}`).join("\n");
}

async function sha256File(path: string): Promise<string> {
  const digest = await crypto.subtle.digest("SHA-256", await Deno.readFile(path));
  return Array.from(new Uint8Array(digest), (b) => b.toString(16).padStart(2, "0")).join("");
}

function chooseTargets(asked: string[]): Target[] {
  for (const target of asked) {
    if (!(TARGETS as readonly string[]).includes(target)) {
      throw new BuildError(`unknown target "${target}"; expected one of: ${TARGETS.join(", ")}`);
    }
  }
  const denort = Deno.env.get("DENORT_BIN");
  if (!denort) return asked.length ? asked as Target[] : [...TARGETS];
  try {
    if (!Deno.statSync(denort).isFile) throw new Error("not a file");
  } catch (error) {
    throw new BuildError(`DENORT_BIN=${denort}: ${(error as Error).message}`);
  }
  const host = Deno.build.target as Target;
  const targets = asked.length ? asked as Target[] : [host];
  if (targets.length > 1) {
    throw new BuildError(
      "DENORT_BIN is the runtime of one target: give one --target per run",
    );
  }
  return targets;
}

/** Builds the chosen targets; returns the exit code. */
export async function main(args: string[]): Promise<number> {
  let values;
  try {
    ({ values } = parseArgs({
      args,
      options: {
        target: { type: "string", multiple: true, default: [] },
        out: { type: "string", default: "dist" },
      },
    }));
  } catch (error) {
    console.error(`error: ${(error as Error).message} (usage: --target TARGET… --out DIR)`);
    return 2;
  }
  try {
    const targets = chooseTargets(values.target);
    const outDir = resolve(ROOT, values.out);
    Deno.mkdirSync(outDir, { recursive: true });
    const built: string[] = [];
    for (const target of targets) {
      for (const program of PROGRAMS) {
        await build(program, target, outDir);
        const path = join(outDir, outputName(program, target));
        built.push(path);
        console.log(`${relative(ROOT, path).padEnd(60)} ${formatBytes(Deno.statSync(path).size)}`);
      }
    }
    const sums = await Promise.all(
      built.map(async (path) => `${await sha256File(path)}  ${basename(path)}\n`),
    );
    Deno.writeTextFileSync(join(outDir, "SHA256SUMS"), sums.join(""));
    console.log(`${relative(ROOT, join(outDir, "SHA256SUMS"))}: ${built.length} files`);
    return 0;
  } catch (error) {
    if (!(error instanceof BuildError)) throw error;
    console.error(`error: ${error.message}`);
    return 1;
  }
}

if (import.meta.main) Deno.exit(await main(Deno.args));
