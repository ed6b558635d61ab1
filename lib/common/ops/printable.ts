/** Text made safe to print on one log line. */

/**
 * Escapes control characters (C0, DEL, C1, and the Unicode line and paragraph separators) as
 * `\n`, `\r`, `\t` or `\xHH`/`\uHHHH`, so a value that came from the network (a domain, a
 * user name, an error message quoting either) cannot start a forged log line or drive the
 * terminal.
 *
 * @example printable("evil.example\n2026-01-01 [INF] forged"); // "evil.example\\n2026-…"
 */
export function printable(text: string): string {
  // deno-lint-ignore no-control-regex
  return text.replace(/[\x00-\x1f\x7f-\x9f\u2028\u2029]/g, (c) => {
    if (c === "\n") return "\\n";
    if (c === "\r") return "\\r";
    if (c === "\t") return "\\t";
    const code = c.charCodeAt(0);
    return code > 0xff ? `\\u${code.toString(16)}` : `\\x${code.toString(16).padStart(2, "0")}`;
  });
}

/**
 * Lays out `rows` (the first one the header) in columns padded to fit, every cell through
 * {@linkcode printable}: a value read from the database (a node's name, its listen address)
 * cannot break a row, forge one or drive the terminal.
 *
 * @example columns([["NAME", "STATUS"], ["eu-1", "alive"]]); // "NAME  STATUS\neu-1  alive"
 */
export function columns(rows: string[][]): string {
  const cells = rows.map((row) => row.map(printable));
  // No rows, or a row shorter or longer than the header, still lays out.
  const widths = (cells[0] ?? []).map((_, i) => Math.max(...cells.map((r) => r[i]?.length ?? 0)));
  return cells.map((r) => r.map((cell, i) => cell.padEnd(widths[i] ?? 0)).join("  ").trimEnd())
    .join("\n");
}
