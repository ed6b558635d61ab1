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
