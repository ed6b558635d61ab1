/** The one way the benchmark scripts write their results: a `## ` section of a Markdown file. */

/**
 * Replaces the section that starts with the line `heading` (up to the next `## ` heading) with
 * `section`, or appends it when the file has none, then formats the file with `deno fmt`.
 *
 * @example await writeSection("docs/BENCHMARKS.md", "## Limits", "## Limits\n\n| … |\n");
 */
export async function writeSection(path: string, heading: string, section: string): Promise<void> {
  let text: string;
  try {
    text = await Deno.readTextFile(path);
  } catch {
    text = "# Benchmarks\n";
  }
  const escaped = heading.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
  const start = text.search(new RegExp(`^${escaped}$`, "m"));
  if (start < 0) {
    text = `${text.trimEnd()}\n\n${section.trimEnd()}\n`;
  } else {
    const next = text.indexOf("\n## ", start + heading.length);
    const rest = next < 0 ? "" : `\n${text.slice(next + 1)}`;
    text = `${text.slice(0, start)}${section.trimEnd()}\n${rest}`;
  }
  await Deno.writeTextFile(path, text);
  await new Deno.Command(Deno.execPath(), { args: ["fmt", "-q", path] }).output();
}
