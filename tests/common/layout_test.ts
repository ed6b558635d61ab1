/** The module layout holds: the local and the remote share only lib/protocol and lib/common. */
import { assertEquals } from "../_assert.ts";
import { ROOT } from "../_harness.ts";

async function importsOf(dir: string): Promise<{ file: string; target: string }[]> {
  const found: { file: string; target: string }[] = [];
  async function walk(path: string): Promise<void> {
    for await (const entry of Deno.readDir(path)) {
      const full = `${path}/${entry.name}`;
      if (entry.isDirectory) await walk(full);
      else if (entry.name.endsWith(".ts")) {
        const text = await Deno.readTextFile(full);
        for (const match of text.matchAll(/(?:from|import)\s*\(?\s*"([^"]+)"/g)) {
          found.push({ file: full.slice(ROOT.length), target: match[1] });
        }
      }
    }
  }
  await walk(`${ROOT}${dir}`);
  return found;
}

Deno.test("no module of the local imports the remote's, and none of the remote's the local's", async () => {
  const crossing = [
    ...(await importsOf("lib/local")).filter((i) => /\/remote\//.test(i.target)),
    ...(await importsOf("lib/remote")).filter((i) => /\/local\//.test(i.target)),
    ...(await importsOf("lib/protocol")).filter((i) => /\/(local|remote|common)\//.test(i.target)),
  ];
  assertEquals(crossing, []);
});
