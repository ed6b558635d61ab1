/**
 * Subscriptions on the tunnel port: a connection that is not a tunnel and asks
 * `GET /sub/<token>[/clash|/singbox|/local]` gets its user's document; anything else, a wrong token,
 * a source cooling off or a head not complete in time goes on to the fallback like any probe,
 * whose relay replaces the token in its path by random characters, so the site never sees a
 * real one. Wrong tokens count as
 * failed logins of the source (the tunnels' auth guard).
 */
import type { Destination } from "../../protocol/address.ts";
import { ProtocolError } from "../../protocol/errors.ts";
import type { Decoded } from "../../protocol/errors.ts";
import { endAnswer } from "../../common/net/peer.ts";
import type { Peer } from "../../common/net/peer.ts";
import { logger } from "../../common/ops/logging.ts";
import type { AuthGuard } from "../users/auth_guard.ts";
import { certificateFacts, shareEndpoint, subscriptionUrl } from "./share.ts";
import type { CertificateFacts } from "./share.ts";
import {
  pinsPublicKeys,
  subscriptionDocument,
  subscriptionFormat,
  subscriptionHeaders,
} from "./subscription.ts";
import type { SubscriptionOptions } from "./subscription.ts";
import { userPageAnswer, wantsPage } from "./user_page.ts";
import {
  isTokenShaped,
  SUBSCRIPTION_PATH,
  subscriptionKey,
  unsealPassword,
} from "./subscription_token.ts";
import { keyForCredential } from "../store/user_store.ts";
import type { UserStore } from "../store/user_store.ts";
import type { ClientRules } from "../../rules/client_rules.ts";

const log = logger("remote", "subscription");

const PREFIX = new TextEncoder().encode(`GET ${SUBSCRIPTION_PATH}`);
/** A longer request head is no subscription request. */
const MAX_HEAD = 8192;
const CRLFCRLF = [0x0d, 0x0a, 0x0d, 0x0a];

/** A request head that began `GET /sub/`. */
interface RequestHead {
  raw: Uint8Array;
  path: string;
  headers: Map<string, string>;
}

function startsLikeRequest(bytes: Uint8Array): boolean {
  const n = Math.min(bytes.length, PREFIX.length);
  for (let i = 0; i < n; i++) if (bytes[i] !== PREFIX[i]) return false;
  return true;
}

function headEnd(bytes: Uint8Array): number {
  outer: for (let i = 0; i + 4 <= bytes.length; i++) {
    for (let j = 0; j < 4; j++) if (bytes[i + j] !== CRLFCRLF[j]) continue outer;
    return i + 4;
  }
  return -1;
}

/**
 * Decodes a subscription request head; null while more bytes are needed.
 *
 * @throws {ProtocolError} when the bytes do not begin `GET /sub/` or the head is too long
 */
function decodeHead(bytes: Uint8Array): Decoded<RequestHead> | null {
  if (!startsLikeRequest(bytes)) throw new ProtocolError("not a subscription request");
  const end = headEnd(bytes);
  if (end < 0) {
    if (bytes.length > MAX_HEAD) throw new ProtocolError("request head too long");
    return null;
  }
  const raw = bytes.slice(0, end);
  const [requestLine, ...lines] = new TextDecoder().decode(raw).split("\r\n");
  const path = requestLine.split(" ")[1] ?? "";
  const headers = new Map<string, string>();
  for (const line of lines) {
    const colon = line.indexOf(":");
    if (colon > 0) {
      headers.set(line.slice(0, colon).trim().toLowerCase(), line.slice(colon + 1).trim());
    }
  }
  return { value: { raw, path, headers }, consumed: end };
}

/** What {@linkcode SubscriptionService} reads from. */
export interface SubscriptionDeps {
  store: UserStore;
  guard: AuthGuard;
  /** The certificate served now (PEM): links pin it. */
  certificate: () => string;
  /** The bound port, for links when no public address is set. */
  port: () => number;
  /**
   * Where clients reach the server (`init --public` or serve's guess). Not the request's
   * `Host` header: whoever sends the request would choose where the user's client connects.
   */
  publicAddress: () => Destination | undefined;
  handshakeTimeoutMs: number;
  /** The title, update interval and support link every answer carries. */
  options: SubscriptionOptions;
  /** The client rules in force now (`serve --client-rules`, the panel), if any. */
  clientRules?: () => ClientRules | undefined;
}

/**
 * Answers subscription requests among the connections that are not tunnels.
 *
 * @example if (await subscriptions.answer(peer, ip, error)) return; // else: the fallback
 */
export class SubscriptionService {
  readonly #deps: SubscriptionDeps;
  #facts?: { pem: string; facts: Promise<CertificateFacts> };

  constructor(deps: SubscriptionDeps) {
    this.#deps = deps;
  }

  #certificateFacts(): Promise<CertificateFacts> {
    const pem = this.#deps.certificate();
    if (this.#facts?.pem !== pem) this.#facts = { pem, facts: certificateFacts(pem) };
    return this.#facts.facts;
  }

  /**
   * Serves `peer` (from `ip`, whose header failed with `error`) when it asks for a valid
   * subscription, and closes it: true. Otherwise false, with every byte it sent still buffered
   * in `peer` for the fallback (whose relay scrubs the token). Never throws.
   */
  async answer(peer: Peer, ip: string, error: unknown): Promise<boolean> {
    if (!(error instanceof ProtocolError)) return false;
    const buffered = peer.takeBuffered();
    peer.unread(buffered);
    if (buffered.length === 0 || !startsLikeRequest(buffered)) return false;
    let head: RequestHead;
    try {
      head = await peer.readFrame(decodeHead, this.#deps.handshakeTimeoutMs);
    } catch {
      return false; // the bytes are back in the peer's buffer
    }
    try {
      if (await this.#serve(peer, ip, head)) return true;
    } catch (serveError) {
      log.warn("subscription request from {ip} failed: {error}", { ip, error: serveError });
    }
    peer.unread(head.raw); // the fallback relay scrubs the token (lib/remote/tunnel/token_scrub.ts)
    return false;
  }

  async #serve(peer: Peer, ip: string, head: RequestHead): Promise<boolean> {
    const [token, suffix = ""] = head.path.slice(SUBSCRIPTION_PATH.length).split("?")[0].split("/");
    // A source cooling off is answered as for a wrong token, without a look-up.
    if (this.#deps.guard.isBlocked(ip)) return false;
    const found = isTokenShaped(token)
      ? await this.#deps.store.findBySubscriptionKey(subscriptionKey(token))
      : undefined;
    const password = found && await unsealPassword(token, found.sealedPassword);
    // A password changed without a new subscription leaves a stale one: revoked in effect.
    if (!found || !password || keyForCredential(found.user.name, password) !== found.user.key) {
      this.#deps.guard.fail(ip);
      log.info("wrong subscription token from {ip}; relaying to the fallback", { ip });
      return false;
    }
    const facts = await this.#certificateFacts();
    const address = this.#deps.publicAddress();
    const endpoint = shareEndpoint(facts, address?.port ?? this.#deps.port(), address?.host);
    const user = found.user;
    const { options } = this.#deps;
    const title = options.name || endpoint.host;
    const url = subscriptionUrl(endpoint, token);
    const request = new Headers();
    for (const [name, value] of head.headers) {
      try {
        request.append(name, value);
      } catch {
        // Not a valid header (a byte Headers refuses): nothing the page reads.
      }
    }
    if (suffix === "" && wantsPage(request)) {
      const page = await userPageAnswer(head.path, request, {
        user,
        url,
        title,
        supportUrl: options.supportUrl,
      });
      await writeAnswer(peer, page.status, page.headers, page.body);
      log.info("user page for {user} to {ip}", { user: user.name, ip });
      await endAnswer(peer);
      return true;
    }
    const userAgent = head.headers.get("user-agent") ?? "";
    const format = subscriptionFormat(suffix, userAgent);
    const rules = this.#deps.clientRules?.();
    const { body, contentType } = subscriptionDocument(format, {
      user: user.name,
      password,
      endpoint,
      leafPem: facts.leafPem,
      ...(rules ? { rules } : {}),
      ...(pinsPublicKeys(userAgent) ? { publicKeyPin: facts.publicKeySha256 } : {}),
    });
    await writeAnswer(peer, "200 OK", {
      "Content-Type": contentType,
      ...subscriptionHeaders({
        user,
        format,
        options,
        title,
        pageUrl: url,
      }),
    }, body);
    log.info("subscription ({format}) for {user} to {ip}", { format, user: user.name, ip });
    await endAnswer(peer);
    return true;
  }
}

/** Writes one HTTP/1.1 answer (`headers`, `body`) that closes the connection; never throws. */
async function writeAnswer(
  peer: Peer,
  status: string,
  headers: Record<string, string>,
  body: string,
): Promise<void> {
  const bytes = new TextEncoder().encode(body);
  const head = new TextEncoder().encode(
    [
      `HTTP/1.1 ${status}`,
      ...Object.entries({
        "cache-control": "no-store",
        ...Object.fromEntries(Object.entries(headers).map(([k, v]) => [k.toLowerCase(), v])),
        "content-length": String(bytes.length),
        connection: "close",
      }).map(([name, value]) => `${name}: ${value}`),
      "",
      "",
    ].join("\r\n"),
  );
  const out = new Uint8Array(head.length + bytes.length);
  out.set(head);
  out.set(bytes, head.length);
  await peer.write(out).catch(() => {});
}
