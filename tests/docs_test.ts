/**
 * Every file, folder or test that the README and docs/ name exists in this repository, and
 * nothing points outside it (the design contract lives with the developers, not the users).
 */
import { assertEquals } from "./_assert.ts";
import { ROOT } from "./_harness.ts";

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
