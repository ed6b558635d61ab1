/**
 * The dashboard serves its page files exactly as they are in the repository (they are built in
 * by text imports), and the page formats bytes with the programs' own formatter.
 */
import { assertEquals } from "../_assert.ts";
import { ROOT } from "../_harness.ts";
import { DashboardFixture } from "./_dashboard.ts";

const FILES: [path: string, file: string, type: string][] = [
  ["/", "lib/local/dashboard/assets/index.html", "text/html; charset=utf-8"],
  ["/app.js", "lib/local/dashboard/assets/app.js", "text/javascript; charset=utf-8"],
  ["/app.css", "lib/local/dashboard/assets/app.css", "text/css; charset=utf-8"],
  ["/format_bytes.js", "lib/common/format_bytes.js", "text/javascript; charset=utf-8"],
];

Deno.test("the page, its script, style sheet and byte formatter are served byte for byte", async () => {
  const dashboard = await DashboardFixture.start();
  try {
    for (const [path, file, type] of FILES) {
      const response = await fetch(dashboard.origin + path);
      assertEquals(response.status, 200, path);
      assertEquals(response.headers.get("content-type"), type, path);
      const served = new Uint8Array(await response.arrayBuffer());
      assertEquals(served, await Deno.readFile(`${ROOT}${file}`), `${path} is not ${file}`);
    }
    const missing = await fetch(`${dashboard.origin}/page_js.ts`);
    await missing.body?.cancel();
    assertEquals(missing.status, 404);
  } finally {
    await dashboard.stop();
  }
});
