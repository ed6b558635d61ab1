/**
 * What each program loads before it runs: the packages only one feature needs are imported
 * when that feature is used, so every other command starts without them. `acme-client` alone
 * was about half of the remote's start-up (0.33 s → 0.18 s for `user list`); `ws` cost every
 * start of either program 0.04 s.
 */
import { assert, assertEquals } from "../_assert.ts";
import { ROOT } from "../_harness.ts";

interface InfoDependency {
  code?: { specifier: string };
  isDynamic?: boolean;
}
interface InfoModule {
  specifier: string;
  dependencies?: InfoDependency[];
  npmPackage?: string;
}
interface Info {
  roots: string[];
  modules: InfoModule[];
  redirects: Record<string, string>;
}

/** The npm packages `entry` loads at start: its static (not dynamic, not type-only) imports. */
async function packagesAtStart(entry: string): Promise<Set<string>> {
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["info", "--json", entry],
    cwd: ROOT,
    stdout: "piped",
    stderr: "piped",
  }).output();
  assert(out.success, new TextDecoder().decode(out.stderr));
  const info: Info = JSON.parse(new TextDecoder().decode(out.stdout));
  const bySpecifier = new Map(info.modules.map((m) => [m.specifier, m]));
  const packages = new Set<string>();
  const seen = new Set<string>();
  const visit = (specifier: string): void => {
    const resolved = info.redirects[specifier] ?? specifier;
    if (seen.has(resolved)) return;
    seen.add(resolved);
    const npm = /^npm:\/?((?:@[^/@]+\/)?[^/@]+)/.exec(resolved);
    if (npm) {
      packages.add(npm[1]!);
      return;
    }
    for (const dependency of bySpecifier.get(resolved)?.dependencies ?? []) {
      if (dependency.code && !dependency.isDynamic) visit(dependency.code.specifier);
    }
  };
  for (const root of info.roots) visit(root);
  return packages;
}

/**
 * Packages one feature needs, loaded when it is used: `--acme`, making a certificate, a page's
 * live WebSocket.
 */
const ON_DEMAND = ["acme-client", "@peculiar/x509", "reflect-metadata", "ws"];

Deno.test("the remote loads ACME, certificate-making and WebSocket packages only when used", async () => {
  const packages = await packagesAtStart("remote.ts");
  // The walk does see packages: the CLI parser is loaded by every command.
  assert(packages.has("commander"), [...packages].join(", "));
  assertEquals(ON_DEMAND.filter((name) => packages.has(name)), []);
});

Deno.test("the local loads none of them either", async () => {
  const packages = await packagesAtStart("local.ts");
  assert(packages.has("commander"), [...packages].join(", "));
  assertEquals(ON_DEMAND.filter((name) => packages.has(name)), []);
});
