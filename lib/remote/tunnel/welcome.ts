/**
 * The remote's answer to the welcome destination (lib/protocol/welcome_page.ts): one HTTP
 * request read, one HTML page about the user's account sent, then a close.
 */
import { endAnswer } from "../../common/net/peer.ts";
import { decodeRequestHead } from "../../protocol/http_proxy.ts";
import { answerBytes } from "../../common/web/http_answer.ts";
import { formatBytes } from "../../common/ops/units.ts";
import {
  fillPage,
  formatDate,
  formatNumber,
  langChoice,
  pickLang,
  translate,
} from "../../common/web/i18n.ts";
import type { Lang } from "../../common/web/i18n.ts";
import { WELCOME_URL } from "../../protocol/welcome_page.ts";
import type { Peer } from "../../common/net/peer.ts";
import { VERSION } from "../../version.ts";
import type { Account } from "../users/accounts.ts";
import page from "./welcome.html" with { type: "text" };

/**
 * The welcome page for `account`, as HTML in `lang` (English unless asked).
 *
 * @example welcomeHtml(account).includes("browsing through SwiftProxy as <b>alice</b>")
 */
export function welcomeHtml(account: Account, lang: Lang = "en"): string {
  const u = account.user;
  const size = (bytes: number) => formatBytes(bytes, "0 B", "short", lang);
  const limit = (bytes: number) =>
    bytes === 0 ? translate(lang, "welcome.unlimited") : `${size(bytes)}/s`;
  const values: Record<string, string> = {
    user: u.name,
    version: VERSION,
    up: size(account.usedUp),
    down: size(account.usedDown),
    quota: u.quota === 0
      ? translate(lang, "welcome.unlimited")
      : translate(lang, "welcome.quotaUsed", { used: size(account.used), quota: size(u.quota) }),
    upLimit: limit(u.upLimit),
    downLimit: limit(u.downLimit),
    expires: u.expiresAt === null
      ? translate(lang, "welcome.never")
      : formatDate(lang, u.expiresAt),
    // The page's own connection is one of the user's too, though no relay session.
    connections: formatNumber(lang, account.sessions.size + 1),
  };
  return fillPage(page, lang, values);
}

/**
 * Reads one request head from `peer` (within `timeoutMs`) and answers it with the page of
 * `account()` (called once the request is in, so it shows the latest figures): GET and HEAD
 * get the page, other methods 405. Closes `peer`; never throws.
 *
 * @example await serveWelcome(peer, () => account, 10_000);
 */
export async function serveWelcome(
  peer: Peer,
  account: () => Promise<Account>,
  timeoutMs: number,
): Promise<void> {
  try {
    const head = await peer.readFrame(decodeRequestHead, timeoutMs);
    const headers = new Headers();
    for (const [name, value] of head.headers) headers.append(name, value);
    const response = await welcomeAnswer(head.method, head.target, headers, account);
    await peer.write(await answerBytes(response, head.method === "HEAD"));
  } catch {
    // A client that went away or sent no request: nothing to answer.
    peer.close();
    return;
  }
  await endAnswer(peer);
}

/** The answer to one request for the welcome page: the page, the language switch's 303, or 405. */
async function welcomeAnswer(
  method: string,
  target: string,
  headers: Headers,
  account: () => Promise<Account>,
): Promise<Response> {
  const noStore = { "cache-control": "no-store" };
  if (method !== "GET" && method !== "HEAD") {
    return new Response("405 Method Not Allowed\n", {
      status: 405,
      headers: { "content-type": "text/plain", allow: "GET, HEAD", ...noStore },
    });
  }
  // The language switch (`?lang=`): remembered in a cookie, then the plain page again.
  const choice = langChoice(new URL(target, WELCOME_URL));
  if (choice) {
    return new Response(null, {
      status: 303,
      headers: { location: WELCOME_URL, "set-cookie": choice.cookie, ...noStore },
    });
  }
  return new Response(welcomeHtml(await account(), pickLang(headers)), {
    headers: { "content-type": "text/html; charset=utf-8", ...noStore },
  });
}
