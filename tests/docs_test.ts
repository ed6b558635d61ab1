/**
 * Every file, folder or test that the README and docs/ name exists in this repository, and
 * nothing points outside it (the design contract lives with the developers, not the users).
 */
import { assertEquals } from "./_assert.ts";
import { ROOT } from "./_harness.ts";
import { helpInProcess } from "./_cli_in_process.ts";
import { localProgram } from "../lib/local/cli.ts";
import { remoteProgram } from "../lib/remote/cli/main.ts";

const DOCS = ["README.md", ...[...Deno.readDirSync(`${ROOT}docs`)].map((e) => `docs/${e.name}`)];
/** Repository paths as the docs write them: `lib/remote/tunnel/server.ts`, `tests/e2e/`, `.ci/run`. */
const PATH = /(?<![\w./-])(?:lib|tests|scripts|packaging|docs|\.ci|\.github)\/[\w./-]*[\w/]/g;
/** A test file named on its own: `probe_test.ts`. */
const TEST_FILE = /(?<![\w./-])[\w]+_test\.ts\b/g;

function exists(path: string): boolean {
  try {
    Deno.statSync(`${ROOT}${path}`);
    return true;
  } catch {
    return false;
  }
}

function allTests(dir = "tests"): string[] {
  return [...Deno.readDirSync(`${ROOT}${dir}`)].flatMap((e) =>
    e.isDirectory ? allTests(`${dir}/${e.name}`) : [e.name]
  );
}

function sourceFiles(dir: string): string[] {
  return [...Deno.readDirSync(`${ROOT}${dir}`)].flatMap((e) =>
    e.isDirectory
      ? sourceFiles(`${dir}/${e.name}`)
      : /\.(ts|js|html|css|md|sh|service)$/.test(e.name)
      ? [`${dir}/${e.name}`]
      : []
  );
}

Deno.test("every path that the README and docs/ name exists in the repository", () => {
  const tests = new Set(allTests());
  const missing: string[] = [];
  for (const doc of DOCS) {
    const text = Deno.readTextFileSync(`${ROOT}${doc}`);
    for (const [path] of text.matchAll(PATH)) {
      if (!exists(path.replace(/\/$/, ""))) missing.push(`${doc}: ${path}`);
    }
    for (const [file] of text.matchAll(TEST_FILE)) {
      if (!tests.has(file)) missing.push(`${doc}: ${file}`);
    }
  }
  assertEquals(missing, []);
});

Deno.test("nothing in the repository points users outside it", () => {
  const outside = /\.\.\/shared|DESIGN(\.md| §)/;
  const found = [...DOCS, ...sourceFiles("lib"), ...sourceFiles("scripts")]
    .filter((file) => outside.test(Deno.readTextFileSync(`${ROOT}${file}`)));
  assertEquals(found, []);
});

Deno.test("docs/ARCHITECTURE.md gives every folder of lib/ its one job", () => {
  const map = Deno.readTextFileSync(`${ROOT}docs/ARCHITECTURE.md`);
  const folders = new Set(
    sourceFiles("lib").filter((f) => !f.includes("/assets/")).map((f) =>
      f.slice(0, f.lastIndexOf("/") + 1)
    ),
  );
  assertEquals([...folders].filter((f) => !map.includes(`| \`${f}\``)), []);
});

/** The command lines of a document's ```sh blocks, without `sudo`, variables and comments. */
function commandLines(doc: string): string[] {
  const text = Deno.readTextFileSync(`${ROOT}${doc}`);
  return [...text.matchAll(/```sh\n([\s\S]*?)```/g)].flatMap((m) => m[1]!.split("\n"))
    .map((line) =>
      line.replace(/\s+#.*$/, "").replace(/^sudo\s+/, "").replace(/^(?:[A-Z_]+='[^']*'\s+)+/, "")
        .trim()
    )
    .filter((line) => line !== "" && !line.startsWith("#"));
}

/** Which program and subcommand a line runs, with the options it gives. */
function parseCommand(
  line: string,
): { program: "remote" | "local"; path: string[]; flags: string[] } | null {
  const words = line.split(/\s+/);
  let rest: string[];
  let program: "remote" | "local";
  if (words[0] === "swiftproxy-remote") [program, rest] = ["remote", words.slice(1)];
  else if (words[0] === "swiftproxy-local") [program, rest] = ["local", words.slice(1)];
  else if (words[0] === "deno" && words[1] === "task" && /^(remote|local)$/.test(words[2] ?? "")) {
    [program, rest] = [words[2] as "remote" | "local", words.slice(3)];
  } else return null;
  const path: string[] = [];
  for (const word of rest) {
    if (word.startsWith("-") || !/^[a-z-]+$/.test(word) || path.length === 3) break;
    path.push(word);
  }
  const flags = rest.filter((w) => w.startsWith("--")).map((w) => w.replace(/=.*$/, ""));
  return { program, path, flags };
}

Deno.test("every command in the README's and docs/' shell blocks is one the programs take", async () => {
  const problems: string[] = [];
  const help = new Map<string, string>();
  const tasks = Object.keys(JSON.parse(Deno.readTextFileSync(`${ROOT}deno.json`)).tasks);
  for (const doc of DOCS.filter((d) => d.endsWith(".md"))) {
    for (const line of commandLines(doc)) {
      const task = /^(?:npx -y deno@[\d.]+ |deno )task ([\w:-]+)/.exec(line);
      if (task && !tasks.includes(task[1]!)) problems.push(`${doc}: no task ${task[1]}: ${line}`);
      const command = parseCommand(line);
      if (!command) continue;
      // Subcommand words that are the user's (a name) end the path where help says so.
      let words = command.program === "remote" ? command.path : [];
      let text = "";
      for (;; words = words.slice(0, -1)) {
        const key = [command.program, ...words].join(" ");
        if (!help.has(key)) {
          // In this process: a spawned `--help` costs a program start, and this reads some 30.
          const program = command.program === "remote" ? remoteProgram() : localProgram();
          help.set(key, await helpInProcess(program, words));
        }
        text = help.get(key)!;
        if (text !== "" || words.length === 0) break;
      }
      if (text === "") {
        problems.push(`${doc}: ${line}: no such command`);
        continue;
      }
      for (const flag of command.flags) {
        if (!new RegExp(`(^|[\\s,])${flag}\\b`, "m").test(text)) {
          problems.push(
            `${doc}: ${line}: ${flag} is not an option of ${[command.program, ...words].join(" ")}`,
          );
        }
      }
    }
  }
  assertEquals(problems, []);
});
