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
import clientRulesJs from "./assets/client_rules.js" with { type: "text" };
import formatBytesJs from "../../common/ops/format_bytes.js" with { type: "text" };
import i18nJs from "../../common/web/i18n.js" with { type: "text" };
import uplotJs from "uplot/dist/uPlot.iife.min.js" with { type: "text" };
import uplotCss from "uplot/dist/uPlot.min.css" with { type: "text" };
import { AssetMap } from "../../common/web/assets.ts";
import { respond } from "../../common/web/http_replies.ts";
import { fillPage, langChoice, pickLang, translate } from "../../common/web/i18n.ts";

/**
 * Every file the panel loads, by the path it is served at.
 *
 * @example ADMIN_ASSETS.get("/uplot.js")?.type // "text/javascript; charset=utf-8"
 */
export const ADMIN_ASSETS: AssetMap = new AssetMap([
  { path: "/app.css", body: appCss },
  { path: "/app.js", body: appJs },
  { path: "/security.js", body: securityJs },
  { path: "/client_rules.js", body: clientRulesJs },
  { path: "/format_bytes.js", body: formatBytesJs },
  { path: "/i18n.js", body: i18nJs },
  { path: "/uplot.js", body: uplotJs },
  { path: "/uplot.css", body: uplotCss },
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
