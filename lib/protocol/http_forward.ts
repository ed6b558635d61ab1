/**
 * Heads as the HTTP proxy forwards them: what it removes, replaces and adds, so that the
 * destination and the client each see one unambiguous message (RFC 9110 §7.6, RFC 9112 §3.2.2
 * and §6.3).
 */
import { withoutHopByHop } from "./http_proxy.ts";
import { formatHostPort } from "./address.ts";
import type { Header, ProxyTarget, RequestHead, ResponseHead } from "./http_proxy.ts";

const named = (headers: Header[], name: string) => headers.some(([n]) => n.toLowerCase() === name);

/**
 * The request head for the destination: origin-form target, hop-by-hop headers removed, and
 * `Host` replaced by the absolute URL's authority (a proxy must ignore the client's own).
 *
 * @example encodeRequestHead(forwardRequestHead(head, proxyTarget(head)));
 */
export function forwardRequestHead(head: RequestHead, target: ProxyTarget): RequestHead {
  const headers = withoutHopByHop(head.headers).filter(([n]) => n.toLowerCase() !== "host");
  const authority = formatHostPort(target.destination).replace(/:80$/, "");
  return { ...head, target: target.path, headers: [["Host", authority], ...headers] };
}

/**
 * The response head for the client: hop-by-hop headers removed, `Content-Length` removed when
 * `Transfer-Encoding` frames the body (the client must frame it as the proxy did), and
 * `Connection: close` added when `close`.
 *
 * @example encodeResponseHead(forwardResponseHead(head, !keepAlive));
 */
export function forwardResponseHead(head: ResponseHead, close: boolean): ResponseHead {
  let headers = withoutHopByHop(head.headers);
  if (named(headers, "transfer-encoding")) {
    headers = headers.filter(([n]) => n.toLowerCase() !== "content-length");
  }
  if (close) headers.push(["Connection", "close"]);
  return { ...head, headers };
}
