/**
 * The admin panel's files, built into the program as text imports (as the local's dashboard
 * does), uPlot's script and style among them, so nothing is read from disk or fetched at run
 * time; and the page itself, filled in the language the browser asks for (English or
 * Simplified Chinese, `lib/common/web/i18n.ts`).
 */
import indexHtml from "./assets/index.html" with { type: "text" };
import appCss from "./assets/app.css" with { type: "text" };
import appJs from "./assets/app.js" with { type: "text" };
import securityJs from "./assets/security.js" with { type: "text" };
import formatBytesJs from "../../common/ops/format_bytes.js" with { type: "text" };
import i18nJs from "../../common/web/i18n.js" with { type: "text" };
import uplotJs from "uplot/dist/uPlot.iife.min.js" with { type: "text" };
import uplotCss from "uplot/dist/uPlot.min.css" with { type: "text" };
import { respond } from "../../common/web/http_replies.ts";
import { fillPage, langChoice, pickLang, translate } from "../../common/web/i18n.ts";

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
  ["/app.css", { body: appCss, type: CSS }],
  ["/app.js", { body: appJs, type: JS }],
  ["/security.js", { body: securityJs, type: JS }],
  ["/format_bytes.js", { body: formatBytesJs, type: JS }],
  ["/i18n.js", { body: i18nJs, type: JS }],
  ["/uplot.js", { body: uplotJs, type: JS }],
  ["/uplot.css", { body: uplotCss, type: CSS }],
]);

/**
 * The panel's page for a `GET /`: in the language of the switch's cookie or of
 * `Accept-Language`, with the catalogue's `admin.` strings for its scripts; the switch's own
 * link (`/?lang=zh-CN`) answers a 303 back to `/` that sets the cookie.
 *
 * @example adminPage(new URL("http://127.0.0.1:9091/"), new Headers({ "accept-language": "zh-CN" }))
 */
export function adminPage(url: URL, headers: Headers): Response {
  const choice = langChoice(url);
  if (choice) {
    return respond(303, "", "text/plain; charset=utf-8", {
      location: "/",
      "set-cookie": choice.cookie,
    });
  }
  const lang = pickLang(headers);
  return respond(
    200,
    fillPage(indexHtml, lang, { never: translate(lang, "admin.never") }, [
      "admin.",
      "common.",
    ]),
    "text/html; charset=utf-8",
    {
      "content-language": lang,
      vary: "Accept-Language, Cookie",
    },
  );
}
