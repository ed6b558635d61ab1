/**
 * `deno task test:times [PATH…] [--jobs N] [--over SECONDS]`: runs every test file under the
 * given paths (default `tests/`) alone, `deno test -q -P=test --no-check FILE` (the suite
 * type-checks once for all files; checking each file's graph alone cost 8–10 s of CPU a file,
 * more than most files' own tests), and lists them by wall time, slowest first, with the CPU
 * time (user + system) the run cost and whether it passed. Files over `--over` seconds (default
 * 30, the suite's budget for one file) are marked.
 *
 * `--jobs N` runs N files at once (default 1: alone, as the budget means). The machine's load
 * average at the start and the end is printed, since a loaded machine makes every file slower.
 */

const args = [...Deno.args];
/** Takes `--name VALUE` out of the arguments. */
function option(name: string, fallback: number): number {
  const at = args.indexOf(name);
  if (at < 0) return fallback;
  const value = Number(args[at + 1]);
  if (!Number.isFinite(value) || value <= 0) {
    throw new Error(`${name} wants a positive number, got ${args[at + 1]}`);
  }
  args.splice(at, 2);
  return value;
}
const jobs = option("--jobs", 1);
const over = option("--over", 30);
const roots = args.length > 0 ? args : ["tests/"];

/** Every `*_test.ts` under a path (a file stands for itself). */
async function testFiles(path: string): Promise<string[]> {
  const info = await Deno.stat(path);
  if (info.isFile) return [path];
  const found: string[] = [];
  for await (const entry of Deno.readDir(path)) {
    const child = `${path.replace(/\/$/, "")}/${entry.name}`;
    if (entry.isDirectory) found.push(...await testFiles(child));
    else if (entry.name.endsWith("_test.ts")) found.push(child);
  }
  return found;
}

/** The load averages, as `uptime` prints them. */
function load(): string {
  return Deno.readTextFileSync("/proc/loadavg").split(" ").slice(0, 3).join(" ");
}

interface Timing {
  file: string;
  seconds: number;
  cpu: number;
  ok: boolean;
}

const files = (await Promise.all(roots.map(testFiles))).flat().sort();
console.log(`${files.length} files, ${jobs} at a time; load at start ${load()}`);
const timings: Timing[] = [];
let next = 0;
const started = performance.now();
await Promise.all(Array.from({ length: jobs }, async () => {
  while (next < files.length) {
    const file = files[next++]!;
    const begin = performance.now();
    // bash's `time` reports the CPU of the run and of every process it waited for (servers,
    // curl, Chromium); a daemon that leaves its parent (PostgreSQL) is not counted.
    const { success, stderr } = await new Deno.Command("bash", {
      args: [
        "-c",
        'TIMEFORMAT="%U %S"; time "$@" >/dev/null 2>&1',
        "bash",
        Deno.execPath(),
        "test",
        "-q",
        "-P=test",
        "--no-check",
        file,
      ],
      stdout: "null",
      stderr: "piped",
    }).output();
    const seconds = (performance.now() - begin) / 1000;
    const [user, system] = new TextDecoder().decode(stderr).trim().split(/\s+/).slice(-2);
    const cpu = Number(user) + Number(system);
    timings.push({ file, seconds, cpu, ok: success });
    console.error(
      `${seconds.toFixed(1).padStart(6)} s ${cpu.toFixed(1).padStart(6)} s CPU  ${
        success ? "ok  " : "FAIL"
      }  ${file}`,
    );
  }
}));
const total = (performance.now() - started) / 1000;

timings.sort((a, b) => b.seconds - a.seconds);
console.log(`\n  wall s   cpu s  result  file`);
for (const t of timings) {
  const mark = t.seconds > over ? `  > ${over} s` : "";
  const cpu = t.cpu.toFixed(1).padStart(6);
  console.log(
    `${t.seconds.toFixed(1).padStart(8)} ${cpu}  ${t.ok ? "ok    " : "FAILED"}  ${t.file}${mark}`,
  );
}
const cpuSum = timings.reduce((sum, t) => sum + t.cpu, 0);
console.log(
  `\n${timings.length} files in ${total.toFixed(0)} s` +
    `, ${cpuSum.toFixed(0)} s CPU` +
    `; ${timings.filter((t) => t.seconds > over).length} over ${over} s; ` +
    `${timings.filter((t) => !t.ok).length} failed; load at end ${load()}`,
);
