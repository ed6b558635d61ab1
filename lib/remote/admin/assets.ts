/**
 * The admin panel's files, built into the program as text imports (as the local's dashboard
 * does), uPlot's script and style among them, so nothing is read from disk or fetched at run
 * time.
 */
import indexHtml from "./assets/index.html" with { type: "text" };
import appCss from "./assets/app.css" with { type: "text" };
import appJs from "./assets/app.js" with { type: "text" };
import securityJs from "./assets/security.js" with { type: "text" };
import clientRulesJs from "./assets/client_rules.js" with { type: "text" };
import formatBytesJs from "../../common/ops/format_bytes.js" with { type: "text" };
import uplotJs from "uplot/dist/uPlot.iife.min.js" with { type: "text" };
import uplotCss from "uplot/dist/uPlot.min.css" with { type: "text" };

/** A file of the panel: its text and its `content-type`. */
export interface AdminAsset {
  body: string;
  type: string;
}

const JS = "text/javascript; charset=utf-8";
const CSS = "text/css; charset=utf-8";

/**
 * Every file the panel loads, by the path it is served at.
 *
 * @example ADMIN_ASSETS.get("/uplot.js")?.type // "text/javascript; charset=utf-8"
 */
export const ADMIN_ASSETS: ReadonlyMap<string, AdminAsset> = new Map([
  ["/", { body: indexHtml, type: "text/html; charset=utf-8" }],
  ["/app.css", { body: appCss, type: CSS }],
  ["/app.js", { body: appJs, type: JS }],
  ["/security.js", { body: securityJs, type: JS }],
  ["/client_rules.js", { body: clientRulesJs, type: JS }],
  ["/format_bytes.js", { body: formatBytesJs, type: JS }],
  ["/uplot.js", { body: uplotJs, type: JS }],
  ["/uplot.css", { body: uplotCss, type: CSS }],
]);
