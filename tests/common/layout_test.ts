/**
 * The module layout holds: folders by job, dependencies that point one way, no import cycle.
 *
 * `LAYERS` is the allowed direction, lowest first: a module may import its own folder and the
 * folders before its own, never one after it. Every folder of `lib/` must have a place in it.
 */
import { assert, assertEquals } from "../_assert.ts";
import { ROOT } from "../_harness.ts";

/** Folders of `lib/`, lowest first. The local's and the remote's stand side by side: never each other. */
const LAYERS: readonly (readonly string[])[] = [
  ["lib"], // version.ts
  ["lib/protocol"],
  ["lib/common/ops"],
  ["lib/common/security"],
  ["lib/common/net"],
  ["lib/common/udp"],
  ["lib/common/mux"],
  ["lib/common/web"],
  ["lib/rules"],
  ["lib/local/tunnel", "lib/remote/store"],
  ["lib/local/inbound", "lib/remote/users"],
  ["lib/local/control", "lib/remote/nodes"],
  ["lib/local/dashboard", "lib/remote/egress"],
  ["lib/local", "lib/remote/share"],
  ["lib/remote/tunnel"],
  ["lib/remote/ops"],
  ["lib/remote/admin"],
  ["lib/remote/acme"],
  ["lib/remote/serve"],
  ["lib/remote/cli"],
];

/** Which program a folder belongs to, if any: the two programs share only what is below them. */
function program(folder: string): "local" | "remote" | undefined {
  return folder.startsWith("lib/local")
    ? "local"
    : folder.startsWith("lib/remote")
    ? "remote"
    : undefined;
}

const IMPORT = /(?:from|import)\s*\(?\s*"(\.{1,2}\/[^"]+)"/g;

/** Every module of `lib/` (assets aside) with the modules it imports, types included. */
export function importGraph(root = ROOT): Map<string, string[]> {
  const graph = new Map<string, string[]>();
  const walk = (dir: string): void => {
    for (const entry of Deno.readDirSync(`${root}${dir}`)) {
      const path = `${dir}/${entry.name}`;
      if (entry.isDirectory) {
        if (entry.name !== "assets") walk(path);
      } else if (/\.(ts|js)$/.test(entry.name)) {
        // Comments aside: a doc example's import is not the module's.
        const text = Deno.readTextFileSync(`${root}${path}`).replace(/\/\*[\s\S]*?\*\//g, "");
        const targets = [...text.matchAll(IMPORT)].map((m) => resolve(dir, m[1]!));
        graph.set(path, targets.filter((t) => /\.(ts|js)$/.test(t) && !t.includes("/assets/")));
      }
    }
  };
  walk("lib");
  return graph;
}

function resolve(dir: string, specifier: string): string {
  const parts = dir.split("/");
  for (const part of specifier.split("/")) {
    if (part === "..") parts.pop();
    else if (part !== ".") parts.push(part);
  }
  return parts.join("/");
}

/** The import cycles of `graph`, each as the modules in it (Tarjan's strongly connected components). */
export function cycles(graph: Map<string, string[]>): string[][] {
  const index = new Map<string, number>();
  const low = new Map<string, number>();
  const stack: string[] = [];
  const onStack = new Set<string>();
  const found: string[][] = [];
  let next = 0;
  const visit = (v: string): void => {
    index.set(v, next);
    low.set(v, next++);
    stack.push(v);
    onStack.add(v);
    for (const w of graph.get(v) ?? []) {
      if (!graph.has(w)) continue;
      if (!index.has(w)) {
        visit(w);
        low.set(v, Math.min(low.get(v)!, low.get(w)!));
      } else if (onStack.has(w)) low.set(v, Math.min(low.get(v)!, index.get(w)!));
    }
    if (low.get(v) !== index.get(v)) return;
    const component: string[] = [];
    for (let w = stack.pop()!;; w = stack.pop()!) {
      onStack.delete(w);
      component.push(w);
      if (w === v) break;
    }
    if (component.length > 1 || (graph.get(v) ?? []).includes(v)) found.push(component.sort());
  };
  for (const v of graph.keys()) if (!index.has(v)) visit(v);
  return found;
}

/** Imports that go against `LAYERS`, and modules in folders `LAYERS` does not place. */
export function wrongWay(graph: Map<string, string[]>): string[] {
  const layerOf = new Map<string, number>();
  LAYERS.forEach((folders, i) => folders.forEach((f) => layerOf.set(f, i)));
  const folderOf = (path: string) => path.slice(0, path.lastIndexOf("/"));
  const wrong: string[] = [];
  for (const [from, targets] of graph) {
    const mine = layerOf.get(folderOf(from));
    if (mine === undefined) {
      wrong.push(`${from}: its folder has no place in LAYERS`);
      continue;
    }
    for (const target of targets) {
      const folder = folderOf(target);
      if (folder === folderOf(from)) continue;
      const theirs = layerOf.get(folder);
      const crossing = program(folder) && program(folderOf(from)) &&
        program(folder) !== program(folderOf(from));
      if (theirs === undefined || theirs >= mine || crossing) wrong.push(`${from} -> ${target}`);
    }
  }
  return wrong;
}

Deno.test("lib/ has no import cycle, not even a type-only one", () => {
  assertEquals(cycles(importGraph()), []);
});

Deno.test("every import in lib/ points down the layers, and the local and the remote never meet", () => {
  assertEquals(wrongWay(importGraph()), []);
});

Deno.test("the layout checks catch a cycle and an import the wrong way", () => {
  const graph = new Map([
    ["lib/remote/users/a.ts", ["lib/remote/store/b.ts"]],
    ["lib/remote/store/b.ts", ["lib/remote/users/a.ts"]],
    ["lib/local/tunnel/c.ts", ["lib/remote/store/b.ts"]],
    ["lib/remote/admin/d.ts", ["lib/remote/admin/d.ts"]],
  ]);
  assertEquals(cycles(graph), [
    ["lib/remote/store/b.ts", "lib/remote/users/a.ts"],
    ["lib/remote/admin/d.ts"],
  ]);
  const wrong = wrongWay(graph);
  assert(wrong.includes("lib/remote/store/b.ts -> lib/remote/users/a.ts"));
  assert(wrong.includes("lib/local/tunnel/c.ts -> lib/remote/store/b.ts"));
  assert(!wrong.includes("lib/remote/users/a.ts -> lib/remote/store/b.ts"));
});

Deno.test("every folder of lib/ holds about a dozen modules at most", () => {
  const perFolder = new Map<string, number>();
  for (const path of importGraph().keys()) {
    const folder = path.slice(0, path.lastIndexOf("/"));
    perFolder.set(folder, (perFolder.get(folder) ?? 0) + 1);
  }
  assertEquals([...perFolder].filter(([, n]) => n > 14), []);
});

/** The one module of `lib/` that may cast a value past its type: the adapter into node's internals. */
const CAST_ADAPTER = "lib/common/net/node_internals.ts";

/** Every `as unknown as` in the modules of `lib/` other than `adapter`, as `path:line`. */
export function castsOutside(adapter = CAST_ADAPTER, root = ROOT): string[] {
  const found: string[] = [];
  for (const path of importGraph(root).keys()) {
    if (path === adapter) continue;
    Deno.readTextFileSync(`${root}${path}`).split("\n").forEach((line, i) => {
      if (/\bas\s+unknown\s+as\b/.test(line)) found.push(`${path}:${i + 1}`);
    });
  }
  return found;
}

Deno.test("only the adapter into node's internals casts: no `as unknown as` elsewhere in lib/", () => {
  assertEquals(castsOutside(), []);
  // And the check sees one: every cast of the adapter counts once it is not the adapter.
  assert(castsOutside("none").some((at) => at.startsWith(`${CAST_ADAPTER}:`)));
});
