import { assertEquals } from "../_assert.ts";
import { writeSection } from "../../scripts/bench/markdown_section.ts";

Deno.test("writeSection replaces its own section and keeps the others", async () => {
  const dir = await Deno.makeTempDir();
  const path = `${dir}/BENCH.md`;
  try {
    await Deno.writeTextFile(path, "# Benchmarks\n\n## A (x)\n\nold a\n\n## B\n\nkeep b\n");
    await writeSection(path, "## A (x)", "## A (x)\n\nnew a\n");
    assertEquals(
      await Deno.readTextFile(path),
      "# Benchmarks\n\n## A (x)\n\nnew a\n\n## B\n\nkeep b\n",
    );
    await writeSection(path, "## C", "## C\n\nc\n");
    assertEquals(
      await Deno.readTextFile(path),
      "# Benchmarks\n\n## A (x)\n\nnew a\n\n## B\n\nkeep b\n\n## C\n\nc\n",
    );
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
