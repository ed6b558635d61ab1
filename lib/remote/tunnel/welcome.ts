/**
 * The remote's answer to the welcome destination (lib/protocol/welcome_page.ts): one HTTP
 * request read, one HTML page about the user's account sent, then a close.
 */
import { decodeRequestHead } from "../../protocol/http_proxy.ts";
import { formatBytes } from "../../common/ops/units.ts";
import { endAnswer } from "../../common/net/peer.ts";
import type { Peer } from "../../common/net/peer.ts";
import { VERSION } from "../../version.ts";
import type { Account } from "../users/accounts.ts";
import page from "./welcome.html" with { type: "text" };

function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

function limit(bytes: number, suffix = ""): string {
  return bytes === 0 ? "unlimited" : `${formatBytes(bytes)}${suffix}`;
}

/**
 * The welcome page for `account`, as HTML, served through one more connection than the
 * account's sessions (its open connections count that one).
 *
 * @example welcomeHtml(account).includes("browsing through SwiftProxy as alice")
 */
export function welcomeHtml(account: Account): string {
  const u = account.user;
  const values: Record<string, string> = {
    user: u.name,
    version: VERSION,
    up: formatBytes(account.usedUp),
    down: formatBytes(account.usedDown),
    quota: u.quota === 0 ? "unlimited" : `${formatBytes(account.used)} of ${formatBytes(u.quota)}`,
    upLimit: limit(u.upLimit, "/s"),
    downLimit: limit(u.downLimit, "/s"),
    expires: u.expiresAt === null ? "never" : new Date(u.expiresAt).toISOString(),
    // The page's own connection is one of the user's too, though no relay session.
    connections: String(account.sessions.size + 1),
  };
  return page.replace(/\{\{\s*(\w+)\s*\}\}/g, (_, name: string) => escapeHtml(values[name] ?? ""));
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
    const allowed = head.method === "GET" || head.method === "HEAD";
    const body = new TextEncoder().encode(
      allowed ? welcomeHtml(await account()) : "405 Method Not Allowed\n",
    );
    const status = allowed ? "200 OK" : "405 Method Not Allowed";
    const type = allowed ? "text/html; charset=utf-8" : "text/plain";
    const response = new TextEncoder().encode(
      `HTTP/1.1 ${status}\r\nContent-Type: ${type}\r\nContent-Length: ${body.length}\r\n` +
        `Cache-Control: no-store\r\nConnection: close\r\n\r\n`,
    );
    await peer.write(response);
    if (head.method !== "HEAD") await peer.write(body);
  } catch {
    // A client that went away or sent no request: nothing to answer.
    peer.close();
    return;
  }
  await endAnswer(peer);
}
