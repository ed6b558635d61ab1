/**
 * What `deno task compile` embeds: it passes no `--include`, so a page's files reach the binary
 * only as imports (text and JSON imports are embedded as modules are). These tests hold that
 * true as pages grow: every file of lib/ that is not a module (pages, scripts, styles,
 * catalogues) is in the module graph of the program that serves it, as `deno compile` walks
 * it (`deno info --json`); no module reads a file of its own from disk beside the one known
 * case; and every script a page loads in the browser imports only files the program serves.
 */
import { join, relative } from "node:path";
import { assert, assertEquals } from "../_assert.ts";
import { ROOT } from "../_harness.ts";
import { PROGRAMS } from "../../scripts/compile.ts";
import { ADMIN_ASSETS } from "../../lib/remote/admin/assets.ts";
import { ASSETS as DASHBOARD_ASSETS } from "../../lib/local/dashboard/assets.ts";

/** Every file under `dir` (a path relative to the repository), relative to the repository. */
function filesUnder(dir: string): string[] {
  const found: string[] = [];
  for (const entry of Deno.readDirSync(join(ROOT, dir))) {
    const path = `${dir}/${entry.name}`;
    if (entry.isDirectory) found.push(...filesUnder(path));
    else found.push(path);
  }
  return found;
}

/** The repository's files in the module graph `deno compile` embeds for `entry`. */
async function embedded(entry: string): Promise<Set<string>> {
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["info", "--json", entry],
    cwd: ROOT,
    env: { NO_COLOR: "1" },
    stdout: "piped",
    stderr: "piped",
  }).output();
  assert(out.success, new TextDecoder().decode(out.stderr));
  const graph = JSON.parse(new TextDecoder().decode(out.stdout)) as {
    modules: { specifier: string }[];
  };
  return new Set(
    graph.modules.map((m) => m.specifier).filter((s) => s.startsWith("file:"))
      .map((s) => relative(ROOT, new URL(s).pathname)),
  );
}

Deno.test("compile: every page file in lib/ is embedded in the program that serves it", async () => {
  const graphs = new Map<string, Set<string>>();
  for (const program of PROGRAMS) graphs.set(program.entry, await embedded(program.entry));
  const local = graphs.get("local.ts")!;
  const remote = graphs.get("remote.ts")!;
  const assets = filesUnder("lib").filter((path) => !path.endsWith(".ts")).sort();
  // The pages' files as they are today, so the check is known to look at them.
  for (
    const known of [
      "lib/common/web/i18n.js",
      "lib/common/web/i18n/en.json",
      "lib/common/web/i18n/zh-CN.json",
      "lib/local/dashboard/assets/index.html",
      "lib/remote/admin/assets/app.js",
      "lib/remote/admin/assets/security.js",
      "lib/remote/share/assets/user_page.js",
      "lib/remote/tunnel/welcome.html",
    ]
  ) assert(assets.includes(known), `${known} is not among ${assets.join(", ")}`);
  const missing = assets.flatMap((path) => {
    // The shared files serve pages of both programs; the others, their own program's.
    const needed = path.startsWith("lib/local/")
      ? [["local.ts", local] as const]
      : path.startsWith("lib/remote/")
      ? [["remote.ts", remote] as const]
      : [["local.ts", local] as const, ["remote.ts", remote] as const];
    return needed.filter(([, graph]) => !graph.has(path)).map(([entry]) =>
      `${path} (not reached from ${entry}: import it as text or JSON, as the pages' files are)`
    );
  });
  assertEquals(missing, []);
});

Deno.test("compile: no module of lib/ reads its own files from disk at run time", () => {
  // import.meta.url/resolve/dirname point into the source tree, which a compiled program
  // does not have beside it (only what --include adds, and compile.ts adds nothing).
  const allowed: Record<string, string> = {
    // Reads the GeoIP tables from the npm package when there, else imports them (embedded).
    "lib/rules/geoip.ts": "falls back to a literal dynamic import",
  };
  const readers = filesUnder("lib").filter((path) => path.endsWith(".ts")).filter((path) =>
    /import\.meta\.(url|resolve|dirname|filename)/.test(Deno.readTextFileSync(join(ROOT, path)))
  );
  assertEquals(readers.filter((path) => !(path in allowed)), []);
});

Deno.test("the pages' scripts import only files their program serves", () => {
  for (
    const [page, served] of [
      ["admin panel", ADMIN_ASSETS],
      ["dashboard", DASHBOARD_ASSETS],
    ] as const
  ) {
    let scripts = 0;
    for (const { path } of served.routes()) {
      const asset = served.get(path)!;
      if (!asset.type.startsWith("text/javascript")) continue;
      for (const [, specifier] of asset.body.matchAll(/^\s*import\s[^"']*["']([^"']+)["']/gm)) {
        const target = new URL(specifier!, `http://page${path}`).pathname;
        assert(
          served.get(target) !== undefined,
          `${page}: ${path} imports ${specifier}, which is not served`,
        );
        scripts++;
      }
    }
    assert(scripts >= 2, `${page}: ${scripts} imports seen`);
  }
});
