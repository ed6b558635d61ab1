/** Log values on one line: control characters escaped, everything else kept. */
import { assertEquals } from "../_assert.ts";
import { printable } from "../../lib/common/ops/printable.ts";

Deno.test("printable escapes control characters and line separators, nothing else", () => {
  assertEquals(printable("a\nb\rc\td"), "a\\nb\\rc\\td");
  assertEquals(printable("\x00\x1b[31m\x7f\x85"), "\\x00\\x1b[31m\\x7f\\x85");
  assertEquals(printable("x\u2028y\u2029"), "x\\u2028y\\u2029");
  assertEquals(printable("café ünïcode 日本 C:\\path"), "café ünïcode 日本 C:\\path");
});
