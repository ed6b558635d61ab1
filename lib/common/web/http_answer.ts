/**
 * A whole HTTP/1.1 answer as bytes, for pages that write to a connection of their own rather
 * than through the web server (the tunnel port's subscription, user page and welcome page, a
 * refused WebSocket upgrade). The head is written by the codec of `lib/protocol/http_proxy.ts`.
 */
import { encodeResponseHead } from "../../protocol/http_proxy.ts";
import type { Header } from "../../protocol/http_proxy.ts";

/** Reason phrases of the statuses the pages answer with. */
const REASONS: Readonly<Record<number, string>> = {
  200: "OK",
  303: "See Other",
  400: "Bad Request",
  401: "Unauthorized",
  403: "Forbidden",
  404: "Not Found",
  405: "Method Not Allowed",
  413: "Content Too Large",
  426: "Upgrade Required",
  429: "Too Many Requests",
};

/**
 * `response` as one answer that closes the connection: its status line and headers, with
 * `content-length` set and `connection: close`, then its body (none with `headOnly`, for HEAD).
 *
 * @example await conn.write(await answerBytes(new Response("hi\n", { status: 200 })));
 */
export async function answerBytes(response: Response, headOnly = false): Promise<Uint8Array> {
  const body = new Uint8Array(await response.arrayBuffer());
  const headers: Header[] = [];
  for (const [name, value] of response.headers) {
    if (name !== "content-length" && name !== "connection") headers.push([name, value]);
  }
  headers.push(["content-length", String(body.length)], ["connection", "close"]);
  const head = encodeResponseHead({
    version: "HTTP/1.1",
    status: response.status,
    reason: response.statusText || REASONS[response.status] || "Answer",
    headers,
  });
  if (headOnly || body.length === 0) return head;
  const bytes = new Uint8Array(head.length + body.length);
  bytes.set(head);
  bytes.set(body, head.length);
  return bytes;
}
