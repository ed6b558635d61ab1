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
import { AssetMap } from "../../common/web/assets.ts";

/**
 * Every file the panel loads, by the path it is served at.
 *
 * @example ADMIN_ASSETS.get("/uplot.js")?.type // "text/javascript; charset=utf-8"
 */
export const ADMIN_ASSETS: AssetMap = new AssetMap([
  { path: "/", body: indexHtml, type: "text/html; charset=utf-8" },
  { path: "/app.css", body: appCss },
  { path: "/app.js", body: appJs },
  { path: "/security.js", body: securityJs },
  { path: "/client_rules.js", body: clientRulesJs },
  { path: "/format_bytes.js", body: formatBytesJs },
  { path: "/uplot.js", body: uplotJs },
  { path: "/uplot.css", body: uplotCss },
]);
