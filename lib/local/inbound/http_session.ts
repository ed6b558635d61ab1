/**
 * An HTTP proxy client session on the local: `CONNECT host:port` tunnels, and absolute-form
 * requests (`GET http://host/path`) forwarded in origin-form, several per keep-alive
 * connection, each to its own destination.
 */
import {
  decodeRequestHead,
  decodeResponseHead,
  encodeRequestHead,
  encodeResponseHead,
  headerValue,
  proxyTarget,
  simpleResponse,
} from "../../protocol/http_proxy.ts";
import type { ProxyTarget, RequestHead } from "../../protocol/http_proxy.ts";
import { forwardRequestHead, forwardResponseHead } from "../../protocol/http_forward.ts";
import { BodyFramer, requestFraming, responseFraming } from "../../protocol/http_body.ts";
import type { Framing } from "../../protocol/http_body.ts";
import { formatHostPort } from "../../protocol/address.ts";
import { ProtocolError } from "../../protocol/errors.ts";
import { withDeadline } from "../../common/net/peer.ts";
import type { Peer } from "../../common/net/peer.ts";
import { relay } from "../../common/net/relay.ts";
import type { Meter } from "../../common/net/relay.ts";
import type { SessionOutcome } from "../../common/ops/session_events.ts";
import { TunnelError } from "../tunnel/tunnel.ts";
import type { RouteConn } from "../tunnel/route.ts";
import type { LoginCheck } from "./client_login.ts";
import type { Diagnosis } from "../tunnel/tunnel_diagnosis.ts";
import { accountRefusal, openRoute, tunnelSession } from "./tunnel_session.ts";
import type { AppReply, TunnelRoutine } from "./tunnel_session.ts";

/** What an HTTP session needs from the local server: the tunnel routine and its settings. */
export interface HttpSessionContext extends TunnelRoutine {
  handshakeTimeoutMs: number;
  /** When set, clients must send `Proxy-Authorization: Basic` with a login this accepts. */
  login?: LoginCheck;
  up: Meter;
  down: Meter;
  /** Called with each destination as requests name them. */
  onDestination(destination: string): void;
  /** Why the remote closed a new tunnel at once (from the remote's account status). */
  explain(): Promise<Diagnosis>;
}

class NoResponse extends Error {}

const DONE: SessionOutcome = { kind: "done" };
const REFUSED: SessionOutcome = { kind: "refused" };

/** An HTTP proxy's answers to its app in the tunnel routine. */
function httpReply(client: Peer): AppReply {
  return {
    opened: () => client.write(simpleResponse(200, "Connection established")),
    failed: (error) => {
      if (error.kind === "rejected") return client.write(forbidden(error)).catch(() => {});
      const status = error.kind === "timeout" ? 504 : 502;
      const reason = status === 504 ? "Gateway Timeout" : "Bad Gateway";
      return client.write(simpleResponse(status, reason)).catch(() => {});
    },
    refused: (diagnosis) => client.write(badGateway(diagnosis)),
  };
}

/**
 * Serves one client connection until it closes.
 *
 * @returns why it ended; the client connection is closed by then
 */
export async function httpSession(client: Peer, ctx: HttpSessionContext): Promise<SessionOutcome> {
  const reply = httpReply(client);
  let upstream: { key: string; peer: Peer } | null = null;
  let first = true;
  try {
    for (;;) {
      let head: RequestHead;
      try {
        // Waiting for a keep-alive client's next request is the idle timeout's business; once
        // it starts, its head gets the handshake deadline, as the first one did.
        if (!first && !(await nextRequestStarts(client))) return DONE;
        head = await withDeadline(
          client,
          ctx.handshakeTimeoutMs,
          client.readFrame(decodeRequestHead),
        );
      } catch (error) {
        if (error instanceof ProtocolError) {
          await client.write(simpleResponse(error.code ?? 400, "Bad Request")).catch(() => {});
          return REFUSED;
        }
        if (!first && error instanceof Deno.errors.UnexpectedEof) return DONE;
        throw error;
      }
      first = false;
      if (ctx.login && !authorized(head, ctx.login)) {
        await client.write(proxyAuthRequired());
        return REFUSED;
      }
      let target: ProxyTarget;
      let framing: Framing;
      try {
        target = proxyTarget(head);
        framing = requestFraming(head.headers);
      } catch (error) {
        await client.write(simpleResponse(400, (error as Error).message));
        return REFUSED;
      }
      const destination = target.destination;
      const key = formatHostPort(destination);
      ctx.onDestination(key);
      if (head.method === "CONNECT") {
        // The session ends with this tunnel: a kept-alive one is not needed again.
        upstream?.peer.close();
        upstream = null;
        const meters = { up: ctx.up, down: ctx.down };
        const outcome = await tunnelSession(client, destination, reply, ctx, () => meters);
        return outcome.kind === "aborted" ? DONE : outcome;
      }
      const refused = await accountRefusal(ctx, reply, destination);
      if (refused) return refused;
      if (upstream && upstream.key !== key) {
        upstream.peer.close();
        upstream = null;
      }

      const keepAlive = clientKeepsAlive(head);
      const outgoing = encodeRequestHead(forwardRequestHead(head, target));
      /** A new connection, whose first write carries the request. */
      let fresh: RouteConn | null = null;
      if (!upstream) {
        const conn = await openRoute(ctx.route, destination, reply);
        if (!("peer" in conn)) return conn;
        upstream = { key, peer: conn.peer };
        fresh = conn;
      }
      const send = (tunnel: Peer, fresh: RouteConn | null) =>
        exchange(client, tunnel, head, framing, keepAlive, outgoing, fresh, ctx);
      let outcome: "keep" | "close" | "upgrade" | null = null;
      while (outcome === null) {
        try {
          outcome = await send(upstream.peer, fresh);
        } catch (error) {
          if (!(error instanceof NoResponse)) throw error;
          upstream.peer.close();
          upstream = null;
          // A new tunnel with no answer at all was closed by the remote at once.
          if (fresh || framing.kind !== "none") {
            const answer = fresh
              ? badGateway(await ctx.explain())
              : simpleResponse(502, "Bad Gateway");
            await client.write(answer).catch(() => {});
            return { kind: fresh ? "closed-at-once" : "server-reset" };
          }
          // A reused tunnel whose origin had closed: retry once on a new one, nothing is lost.
          const conn = await openRoute(ctx.route, destination, reply);
          if (!("peer" in conn)) return conn;
          upstream = { key, peer: conn.peer };
          fresh = conn;
        }
      }
      if (outcome === "upgrade") {
        const result = await relay(client, upstream.peer, { up: ctx.up, down: ctx.down });
        return result.reason === "aborted" ? DONE : { kind: result.reason };
      }
      if (outcome === "close") return DONE;
    }
  } catch (error) {
    if (error instanceof TunnelError || error instanceof NoResponse) {
      return { kind: "server-reset" };
    }
    if (error instanceof ProtocolError) return REFUSED;
    return { kind: "client-reset" };
  } finally {
    upstream?.peer.close();
    client.close();
  }
}

/** A 403 whose one-line body names the `REJECT` rule that refused the destination. */
function forbidden(error: TunnelError): Uint8Array {
  // The rule as written may hold any character; the body's length is counted in bytes.
  const rule = (error.rule ?? "").replace(/[^\x20-\x7e]/g, "?");
  return simpleResponse(403, "Forbidden", true, `403 Forbidden: refused by the rule ${rule}\n`);
}

/** A 502 whose body says in one sentence why the remote refused, and what fixes it. */
function badGateway(diagnosis: Diagnosis): Uint8Array {
  return simpleResponse(502, "Bad Gateway", true, `502 Bad Gateway: ${diagnosis.words}\n`);
}

/** Waits for the first byte of a keep-alive client's next request; false when it closes. */
async function nextRequestStarts(client: Peer): Promise<boolean> {
  const bytes = await client.read();
  if (bytes === null) return false;
  client.unread(bytes);
  return true;
}

/**
 * Sends one request (head and body) and relays its response(s) back. Returns whether the
 * client connection can take another request.
 */
async function exchange(
  client: Peer,
  upstream: Peer,
  head: RequestHead,
  framing: Framing,
  keepAlive: boolean,
  outgoing: Uint8Array,
  fresh: RouteConn | null,
  ctx: HttpSessionContext,
): Promise<"keep" | "close" | "upgrade"> {
  const first = fresh ? fresh.first(outgoing) : outgoing;
  ctx.up.take(outgoing.length);
  await upstream.write(first);
  let bodySent = false;
  const sending = copyBody(client, upstream, framing, ctx.up).then(() => void (bodySent = true));
  sending.catch(() => {});
  const outcome = await relayResponse(upstream, client, head.method, keepAlive, ctx.down);
  if (!bodySent && outcome !== "upgrade") {
    // The origin answered before the body was sent (an early error): this connection is done.
    client.close();
    upstream.close();
    return "close";
  }
  await sending;
  return outcome;
}

async function relayResponse(
  upstream: Peer,
  client: Peer,
  method: string,
  keepAlive: boolean,
  meter: Meter,
): Promise<"keep" | "close" | "upgrade"> {
  let sawResponse = false;
  for (;;) {
    let head;
    let framing: Framing;
    try {
      head = await upstream.readFrame(decodeResponseHead);
      framing = responseFraming(method, head.status, head.headers);
    } catch (error) {
      if (!sawResponse && error instanceof Deno.errors.UnexpectedEof) throw new NoResponse();
      // Nothing of this response has reached the client yet: it can still be told.
      if (error instanceof ProtocolError) {
        await client.write(simpleResponse(502, "Bad Gateway")).catch(() => {});
      }
      throw error;
    }
    sawResponse = true;
    if (head.status === 101) {
      const bytes = encodeResponseHead(head);
      meter.take(bytes.length);
      await client.write(bytes);
      return "upgrade";
    }
    const interim = head.status >= 100 && head.status < 200;
    const close = !interim && (framing.kind === "close" || !keepAlive);
    const bytes = encodeResponseHead(forwardResponseHead(head, close));
    meter.take(bytes.length);
    await client.write(bytes);
    if (interim) continue;
    await copyBody(upstream, client, framing, meter);
    return close ? "close" : "keep";
  }
}

async function copyBody(from: Peer, to: Peer, framing: Framing, meter: Meter): Promise<void> {
  const framer = new BodyFramer(framing);
  while (!framer.done) {
    const chunk = await from.read();
    if (chunk === null) {
      if (framing.kind === "close") return;
      throw new Deno.errors.UnexpectedEof("the body ended early");
    }
    const used = framer.feed(chunk);
    if (used < chunk.length) from.unread(chunk.subarray(used));
    meter.take(used);
    await to.write(chunk.subarray(0, used));
  }
}

function clientKeepsAlive(head: RequestHead): boolean {
  const connection = [
    headerValue(head.headers, "connection"),
    headerValue(head.headers, "proxy-connection"),
  ]
    .filter(Boolean).join(",").toLowerCase();
  if (connection.includes("close")) return false;
  return head.version === "HTTP/1.1" || connection.includes("keep-alive");
}

/** Whether the request's Basic credentials pass `login`; none at all is no failed guess. */
function authorized(head: RequestHead, login: LoginCheck): boolean {
  const value = headerValue(head.headers, "proxy-authorization") ?? "";
  const match = /^Basic\s+(\S+)$/i.exec(value);
  if (!match) return false;
  let given: Uint8Array;
  try {
    given = Uint8Array.from(atob(match[1]!), (c) => c.charCodeAt(0));
  } catch {
    return false;
  }
  // RFC 7617: the user-id ends at the first colon; the password may hold more.
  const colon = given.indexOf(0x3a);
  if (colon < 0) return login(given, new Uint8Array(0));
  return login(given.subarray(0, colon), given.subarray(colon + 1));
}

function proxyAuthRequired(): Uint8Array {
  return new TextEncoder().encode(
    'HTTP/1.1 407 Proxy Authentication Required\r\nProxy-Authenticate: Basic realm="SwiftProxy"\r\n' +
      "Content-Length: 0\r\nConnection: close\r\n\r\n",
  );
}
