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
import { decodeRequestHead } from "../../protocol/http_proxy.ts";
import type { RequestHead } from "../../protocol/http_proxy.ts";
import { endAnswer } from "../../common/net/peer.ts";
import { answerBytes } from "../../common/web/http_answer.ts";
import { Router } from "../../common/web/router.ts";
import type { Method } from "../../common/web/router.ts";
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

/**
 * The subscription URL, bare (the document the app's User-Agent asks for, or the user's page
 * for a browser) and with a format (`/clash`, `/singbox`, `/base64`, `/local`).
 */
const ROUTES = new Router<{ method: Method; path: string }>([
  { method: "GET", path: `${SUBSCRIPTION_PATH}{token}` },
  { method: "GET", path: `${SUBSCRIPTION_PATH}{token}/{format}` },
]);

/** A request head that began `GET /sub/`, and its bytes (put back for the fallback). */
interface SubscriptionRequest {
  raw: Uint8Array;
  head: RequestHead;
}

function startsLikeRequest(bytes: Uint8Array): boolean {
  const n = Math.min(bytes.length, PREFIX.length);
  for (let i = 0; i < n; i++) if (bytes[i] !== PREFIX[i]) return false;
  return true;
}

/**
 * Decodes a subscription request head; null while more bytes are needed.
 *
 * @throws {ProtocolError} when the bytes do not begin `GET /sub/`, the head is malformed or
 *   longer than {@linkcode MAX_HEAD}
 */
function decodeSubscriptionRequest(bytes: Uint8Array): Decoded<SubscriptionRequest> | null {
  if (!startsLikeRequest(bytes)) throw new ProtocolError("not a subscription request");
  const decoded = decodeRequestHead(bytes, MAX_HEAD);
  if (!decoded) return null;
  return {
    value: { raw: bytes.slice(0, decoded.consumed), head: decoded.value },
    consumed: decoded.consumed,
  };
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
  #facts?: { pem: string; facts: CertificateFacts };

  constructor(deps: SubscriptionDeps) {
    this.#deps = deps;
  }

  #certificateFacts(): CertificateFacts {
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
    let request: SubscriptionRequest;
    try {
      request = await peer.readFrame(decodeSubscriptionRequest, this.#deps.handshakeTimeoutMs);
    } catch {
      return false; // the bytes are back in the peer's buffer
    }
    try {
      if (await this.#serve(peer, ip, request.head)) return true;
    } catch (serveError) {
      log.warn("subscription request from {ip} failed: {error}", { ip, error: serveError });
    }
    peer.unread(request.raw); // the fallback relay scrubs the token (lib/remote/tunnel/token_scrub.ts)
    return false;
  }

  async #serve(peer: Peer, ip: string, head: RequestHead): Promise<boolean> {
    const path = head.target;
    const route = ROUTES.find(head.method, path.split("?")[0]!);
    // Any other path under /sub/ counts as a wrong token.
    const { token = "", format: suffix = "" } = route.route ? route.params : {};
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
    const facts = this.#certificateFacts();
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
      const page = await userPageAnswer(path, request, {
        user,
        url,
        title,
        supportUrl: options.supportUrl,
        ...(endpoint.pin ? { pin: endpoint.pin } : {}),
      });
      await writeAnswer(peer, page);
      log.info("user page for {user} to {ip}", { user: user.name, ip });
      await endAnswer(peer);
      return true;
    }
    const userAgent = request.get("user-agent") ?? "";
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
    await writeAnswer(
      peer,
      new Response(body, {
        headers: {
          "content-type": contentType,
          ...subscriptionHeaders({ user, format, options, title, pageUrl: url }),
        },
      }),
    );
    log.info("subscription ({format}) for {user} to {ip}", { format, user: user.name, ip });
    await endAnswer(peer);
    return true;
  }
}

/** Writes `response` as one HTTP/1.1 answer that closes the connection; never throws. */
async function writeAnswer(peer: Peer, response: Response): Promise<void> {
  if (!response.headers.has("cache-control")) response.headers.set("cache-control", "no-store");
  await peer.write(await answerBytes(response)).catch(() => {});
}
