/**
 * The dashboard page's files, built into the program: text imports are embedded by
 * `deno compile` like modules, so nothing is read from disk at run time. The chart library
 * (uPlot) comes the same way, from its npm package as pinned in deno.json.
 */
import indexHtml from "./assets/index.html" with { type: "text" };
import appCss from "./assets/app.css" with { type: "text" };
import appJs from "./assets/app.js" with { type: "text" };
import faviconSvg from "./assets/favicon.svg" with { type: "text" };
import formatBytesJs from "../../common/ops/format_bytes.js" with { type: "text" };
import i18nJs from "../../common/web/i18n.js" with { type: "text" };
import uPlotJs from "uplot/dist/uPlot.iife.min.js" with { type: "text" };
import uPlotCss from "uplot/dist/uPlot.min.css" with { type: "text" };
import { AssetMap } from "../../common/web/assets.ts";

/**
 * The page as a template: `{{t:key}}` for the catalogue's text, `{{name}}` for the state it
 * is served with (see `fillPage` in lib/common/web/i18n.ts).
 */
export const INDEX_TEMPLATE: string = indexHtml;

/**
 * Every file the page loads, by the path it is served at (the page itself aside).
 *
 * @example ASSETS.get("/app.js")?.body
 */
export const ASSETS: AssetMap = new AssetMap([
  { path: "/app.css", body: appCss },
  { path: "/app.js", body: appJs },
  { path: "/format_bytes.js", body: formatBytesJs },
  { path: "/i18n.js", body: i18nJs },
  { path: "/uPlot.iife.min.js", body: uPlotJs },
  { path: "/uPlot.min.css", body: uPlotCss },
  { path: "/favicon.svg", body: faviconSvg },
  // Browsers ask for /favicon.ico on their own; the SVG answers it (they go by content-type).
  { path: "/favicon.ico", body: faviconSvg, type: "image/svg+xml" },
]);
