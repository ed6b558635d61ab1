/**
 * The dashboard serves its page files exactly as they are in the repository (they are built in
 * by text imports), and the page formats bytes with the programs' own formatter.
 */
import { assert, assertEquals } from "../_assert.ts";
import { curl, ROOT } from "../_harness.ts";
import { DashboardFixture } from "./_dashboard.ts";

const FILES: [path: string, file: string, type: string][] = [
  ["/app.js", "lib/local/dashboard/assets/app.js", "text/javascript; charset=utf-8"],
  ["/app.css", "lib/local/dashboard/assets/app.css", "text/css; charset=utf-8"],
  ["/format_bytes.js", "lib/common/ops/format_bytes.js", "text/javascript; charset=utf-8"],
  ["/i18n.js", "lib/common/web/i18n.js", "text/javascript; charset=utf-8"],
];

/**
 * A pattern that matches `template` byte for byte outside its `{{…}}` placeholders, each of
 * which may be anything without a `{{` (so every placeholder must have been filled).
 */
function filledTemplate(template: string): RegExp {
  const parts = template.split(/\{\{[^}]*\}\}/);
  const escape = (text: string) => text.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
  return new RegExp(`^${parts.map(escape).join("((?:(?!\\{\\{)[\\s\\S])*?)")}$`);
}

Deno.test("the page's script, style sheet and formatters are served byte for byte, the page as its template filled in", async () => {
  const dashboard = await DashboardFixture.start();
  try {
    for (const [path, file, type] of FILES) {
      const response = await fetch(dashboard.origin + path);
      assertEquals(response.status, 200, path);
      assertEquals(response.headers.get("content-type"), type, path);
      const served = new Uint8Array(await response.arrayBuffer());
      assertEquals(served, await Deno.readFile(`${ROOT}${file}`), `${path} is not ${file}`);
    }
    // The page is its template with the placeholders filled: the state, texts and values.
    const page = await fetch(dashboard.origin + "/");
    assertEquals(page.headers.get("content-type"), "text/html; charset=utf-8");
    const html = await page.text();
    const template = await Deno.readTextFile(`${ROOT}lib/local/dashboard/assets/index.html`);
    assert(template.includes("{{"), "the page's file is a template");
    assert(filledTemplate(template).test(html), `/ is not index.html filled in:\n${html}`);
    assert(!html.includes("{{"), "a placeholder is left unfilled");
    const missing = await fetch(`${dashboard.origin}/page_js.ts`);
    await missing.body?.cancel();
    assertEquals(missing.status, 404);
    // A page's file asked with another method: 405 naming GET and HEAD; HEAD: no body.
    const posted = await fetch(`${dashboard.origin}/app.js`, { method: "POST" });
    await posted.body?.cancel();
    assertEquals([posted.status, posted.headers.get("allow")], [405, "GET, HEAD"]);
    const head = await fetch(`${dashboard.origin}/app.js`, { method: "HEAD" });
    assertEquals([head.status, await head.text()], [200, ""]);
    assertEquals(head.headers.get("content-type"), "text/javascript; charset=utf-8");
  } finally {
    await dashboard.stop();
  }
});

Deno.test("uPlot comes from its npm package as pinned, an icon answers /favicon.ico, and a foreign page gets neither", async () => {
  const { default: uPlotJs } = await import("uplot/dist/uPlot.iife.min.js", {
    with: { type: "text" },
  });
  const { default: uPlotCss } = await import("uplot/dist/uPlot.min.css", {
    with: { type: "text" },
  });
  const pinned = JSON.parse(await Deno.readTextFile(`${ROOT}deno.json`)).imports.uplot;
  const dashboard = await DashboardFixture.start();
  try {
    const served: [path: string, body: string, type: string][] = [
      ["/uPlot.iife.min.js", uPlotJs, "text/javascript; charset=utf-8"],
      ["/uPlot.min.css", uPlotCss, "text/css; charset=utf-8"],
      [
        "/favicon.ico",
        await Deno.readTextFile(`${ROOT}lib/local/dashboard/assets/favicon.svg`),
        "image/svg+xml",
      ],
    ];
    for (const [path, body, type] of served) {
      const response = await fetch(dashboard.origin + path);
      assertEquals(response.status, 200, path);
      assertEquals(response.headers.get("content-type"), type, path);
      assertEquals(await response.text(), body, path);
    }
    assertEquals(uPlotJs.slice(0, 60).match(/v\d+\.\d+\.\d+/)?.[0], `v${pinned.split("@").at(-1)}`);
    const page = await (await fetch(dashboard.origin + "/")).text();
    for (const path of ["/uPlot.iife.min.js", "/uPlot.min.css", "/favicon.svg"]) {
      assertEquals(page.includes(`"${path}"`), true, `the page does not load ${path}`);
      const foreignHeaders: Record<string, string>[] = [
        { origin: "http://evil.example" },
        { host: "evil.example" },
      ];
      for (const headers of foreignHeaders) {
        const foreign = await curlStatus(dashboard.origin + path, headers);
        assertEquals(foreign, "403", `${path} with ${JSON.stringify(headers)}`);
      }
    }
  } finally {
    await dashboard.stop();
  }
});

/** The status code for a GET with `headers` (curl: fetch cannot set Host). */
async function curlStatus(url: string, headers: Record<string, string>): Promise<string> {
  const result = await curl(
    "-o",
    "/dev/null",
    "-w",
    "%{http_code}",
    ...Object.entries(headers).flatMap(([k, v]) => ["-H", `${k}: ${v}`]),
    url,
  );
  return new TextDecoder().decode(result.body);
}

Deno.test("no page the programs serve gives two elements the same id", async () => {
  // A second id="link" once made the dashboard's "Use link" read the wrong element.
  const pages = await listHtml(`${ROOT}lib`);
  for (const page of ["local/dashboard/assets/index.html", "remote/admin/assets/index.html"]) {
    assert(pages.includes(`${ROOT}lib/${page}`), `${page} not among ${pages}`);
  }
  for (const path of pages) {
    const html = await Deno.readTextFile(path);
    const ids = [...html.matchAll(/\sid\s*=\s*["']([^"']+)["']/g)].map((m) => m[1]);
    const twice = ids.filter((id, i) => ids.indexOf(id) !== i);
    assertEquals(twice, [], `${path} has these ids more than once`);
  }
});

/** Every `.html` file under `dir`: the dashboard, the admin panel, the welcome page, … */
async function listHtml(dir: string): Promise<string[]> {
  const found: string[] = [];
  for await (const entry of Deno.readDir(dir)) {
    const path = `${dir}/${entry.name}`;
    if (entry.isDirectory) found.push(...await listHtml(path));
    else if (entry.name.endsWith(".html")) found.push(path);
  }
  return found;
}
