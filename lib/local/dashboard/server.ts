/**
 * The dashboard's HTTP and WebSocket server (`WebServer`): the page, a small JSON API for
 * Connect/Disconnect, `/proxy.pac`, and a status message to every open WebSocket each second.
 */
import { LiveSockets } from "../../common/web/live_sockets.ts";
import { WebServer } from "../../common/web/web_server.ts";
import { JSON_BODY_LIMIT, readBodyText } from "../../common/web/request_body.ts";
import { json, respond, text } from "../../common/web/http_replies.ts";
import { PageGuard } from "../../common/web/guard.ts";
import { route, Router } from "../../common/web/router.ts";
import type { Route } from "../../common/web/router.ts";
import { formatHostPort } from "../../protocol/address.ts";
import type { Destination } from "../../protocol/address.ts";
import { parseShareLink } from "../../protocol/share_link.ts";
import type { ShareLink } from "../../protocol/share_link.ts";
import { takeSubscription } from "../control/subscription.ts";
import { parseSubscriptionUrl } from "../tunnel/subscription_fetch.ts";
import { PinMismatch } from "../tunnel/pinned_certificate.ts";
import { dirname } from "node:path";
import { logger } from "../../common/ops/logging.ts";
import { VERSION } from "../../version.ts";
import { defaultSettingsPath, normalizeSettings } from "../control/settings.ts";
import type { ProxyControl } from "../control/proxy_control.ts";
import { Problem } from "../tunnel/problems.ts";
import { directTraffic, StatsSampler } from "./stats.ts";
import type { ConnectionRow, RateHistory } from "./stats.ts";
import type { AccountStatus } from "../tunnel/account_check.ts";
import { ASSETS, INDEX_TEMPLATE } from "./assets.ts";
import { fillPage, langChoice, pickLang, translate } from "../../common/web/i18n.ts";
import type { Lang } from "../../common/web/i18n.ts";
import { LiveAccount } from "./live_account.ts";
import { proxyPac } from "./pac.ts";
import { domainPrefix } from "../../rules/domain_prefix.ts";

/** Rows sent per message; the rest are only counted (the page stays smooth at any count). */
export const MAX_ROWS = 200;

/**
 * The one state the page shows: stopped, connecting, or listening with the remote reachable
 * (`online`), unreachable (or not trusted, or not SwiftProxy), or refusing the login.
 */
export type ShownState = "stopped" | "connecting" | "online" | "unreachable" | "refused";

/** The message sent over the WebSocket every second and on every change. */
export interface StatusMessage {
  type: "status";
  version: string;
  pid: number;
  state: ProxyControl["state"];
  /** The one state to show, from `state` and the last account check. */
  shown: ShownState;
  /** Why the remote does not let traffic through while listening (`unreachable`, `refused`). */
  why: string | null;
  /** The proxy's bound address while listening, else the configured one. */
  listen: string;
  remote: string;
  user: string;
  problem: { kind: Problem["kind"]; message: string } | null;
  /** Set while the proxy is open to others without a login (an open proxy). */
  warning: string | null;
  /** The remote's last answer with this local's traffic since added (usage, connections). */
  account: AccountStatus | null;
  /** Bytes per second over the last whole second of the clock, lightly smoothed. */
  rate: { up: number; down: number };
  /** The last 60 seconds of `rate`, one value per second, oldest first. */
  history: RateHistory;
  totals: { up: number; down: number };
  /**
   * Of `rate` and `totals`, what went straight out (`DIRECT` rules), not through the server;
   * null when no rules are in force (everything goes through the server).
   */
  direct: { rate: { up: number; down: number }; totals: { up: number; down: number } } | null;
  /** How many connections are open (`connections` holds at most {@linkcode MAX_ROWS}). */
  open: number;
  connections: ConnectionRow[];
}

/** How to run the dashboard. */
export interface DashboardOptions {
  listen: Destination;
  control: ProxyControl;
  /** Required from every request when set. */
  token?: string;
  /** Milliseconds between readings of the byte counters (a message goes out each second). */
  intervalMs?: number;
}

const log = logger("local", "dashboard");

/** A running dashboard. */
export class DashboardServer {
  readonly #control: ProxyControl;
  readonly #server: WebServer;
  readonly #guard: PageGuard;
  readonly #router = new Router(this.#routes());
  readonly #sampler: StatsSampler;
  /** The direct part of the traffic, sampled alongside. */
  readonly #directSampler: StatsSampler;
  readonly #account: LiveAccount;
  readonly #sockets = new LiveSockets(() => this.status());
  readonly #timer: ReturnType<typeof setInterval>;
  readonly #unwatch: () => void;

  /**
   * Binds and starts serving.
   *
   * @throws {Deno.errors.AddrInUse} when the port is taken
   */
  constructor(options: DashboardOptions) {
    this.#control = options.control;
    this.#sampler = new StatsSampler(options.control.connections);
    this.#directSampler = new StatsSampler(directTraffic(options.control.connections));
    this.#account = new LiveAccount(options.control.connections);
    this.#server = new WebServer({
      hostname: options.listen.host,
      port: options.listen.port,
      handler: (request) => this.#handle(request),
    });
    const port = this.#server.addr.port;
    this.#guard = new PageGuard({
      bound: { host: options.listen.host, port },
      loopbackPorts: "bound",
      ...(options.token === undefined
        ? {}
        : { token: { secret: options.token, cookie: `swiftproxy_ui_${port}` } }),
    });
    // Read several times a second; a message goes out as each second of the clock closes.
    this.#timer = setInterval(() => {
      const now = Date.now();
      this.#directSampler.sample(now);
      if (this.#sampler.sample(now)) this.#broadcast();
    }, options.intervalMs ?? 250);
    // A change of state or problem goes out at once; a fresh account answer (every 2 s while
    // traffic flows) waits for the next second's message, so messages stay a second apart.
    let shown = "";
    this.#unwatch = this.#control.watch(() => {
      this.#account.answered(this.#control.account);
      const now = `${this.#control.state} ${this.#control.problem?.message}`;
      if (now === shown) return;
      shown = now;
      this.#broadcast();
    });
  }

  get addr(): Deno.NetAddr {
    return this.#server.addr;
  }

  /** The page's address, e.g. `http://127.0.0.1:9090/`. */
  get url(): string {
    return this.#server.url;
  }

  /** The current status, as sent over the WebSocket. */
  status(): StatusMessage {
    const control = this.#control;
    const bound = control.listenAddress;
    const down = control.remoteProblem;
    return {
      type: "status",
      version: VERSION,
      pid: Deno.pid,
      state: control.state,
      shown: control.state !== "listening"
        ? control.state
        : !down
        ? "online"
        : down.kind === "login-refused"
        ? "refused"
        : "unreachable",
      why: down?.message ?? null,
      listen: bound
        ? formatHostPort({ host: bound.hostname, port: bound.port })
        : control.settings.listen,
      remote: control.settings.remote,
      user: control.settings.user,
      problem: control.problem
        ? { kind: control.problem.kind, message: control.problem.message }
        : null,
      warning: control.openProxy
        ? `Open proxy: listening on ${
          formatHostPort({ host: bound!.hostname, port: bound!.port })
        } without a SOCKS5 login (--socks-user); anyone who can reach it can use your account.`
        : null,
      account: this.#account.view(control.account),
      rate: this.#sampler.rate,
      history: this.#sampler.history,
      totals: { up: control.connections.totalUp, down: control.connections.totalDown },
      direct: control.config.rules
        ? {
          rate: this.#directSampler.rate,
          totals: { up: control.connections.directUp, down: control.connections.directDown },
        }
        : null,
      open: control.connections.size,
      connections: this.#sampler.rows(MAX_ROWS),
    };
  }

  /**
   * The page in `lang` as served at `/`: the state, process and version already in it, so
   * the first paint is true before the script runs or the WebSocket opens.
   */
  page(lang: Lang): string {
    const status = this.status();
    const words = stateWords(lang, status);
    return fillPage(INDEX_TEMPLATE, lang, {
      state: status.state,
      shown: status.shown,
      stateText: words.badge,
      sessionText: words.line,
      sessionHidden: words.line ? "" : "hidden",
      pid: String(status.pid),
      version: status.version,
      listen: status.listen,
      // Settings open while stopped (the thing to do); folded away once listening.
      settingsOpen: status.state === "listening" ? "" : "open",
    }, ["dashboard.", "common."]);
  }

  /** Closes the WebSockets and stops serving. */
  async stop(): Promise<void> {
    clearInterval(this.#timer);
    this.#unwatch();
    this.#sockets.closeAll("the dashboard is stopping");
    await this.#server.shutdown();
  }

  #broadcast(): void {
    this.#sockets.broadcast();
  }

  async #handle(request: Request): Promise<Response> {
    const refusal = this.#guard.check(request);
    if (refusal) {
      log.warn("refused {method} {path}: {reason}", {
        method: request.method,
        path: new URL(request.url).pathname,
        reason: refusal.reason,
      });
      return text(
        refusal.status,
        refusal.status === 401
          ? "Unauthorized: open the link with the token the program printed.\n"
          : "Forbidden\n",
      );
    }
    return await route(this.#router, request);
  }

  /** The dashboard's routes: its page, `/proxy.pac`, the API, the WebSocket and the files. */
  #routes(): Route[] {
    return [
      { method: "GET", path: "/", handle: ({ request, url }) => this.#index(request, url) },
      {
        method: "GET",
        path: "/proxy.pac",
        handle: () =>
          respond(
            200,
            proxyPac(
              this.#control.listenAddress,
              this.#control.settings.listen,
              domainPrefix(this.#control.config.rules?.engine?.rules ?? []),
            ),
            "application/x-ns-proxy-autoconfig",
          ),
      },
      { method: "GET", path: "/api/status", handle: () => json(200, this.status()) },
      { method: "GET", path: "/api/settings", handle: () => json(200, this.#settingsForPage()) },
      { method: "POST", path: "/api/connect", handle: ({ request }) => this.#connect(request) },
      { method: "POST", path: "/api/link", handle: ({ request }) => this.#link(request) },
      {
        method: "POST",
        path: "/api/disconnect",
        handle: async () => {
          await this.#control.disconnect();
          return json(200, this.status());
        },
      },
      { method: "GET", path: "/ws", handle: ({ request }) => this.#sockets.upgrade(request) },
      ...ASSETS.routes(),
    ];
  }

  /** `GET /`: the page, or a redirect that keeps the link's token or the language chosen. */
  #index(request: Request, url: URL): Response {
    if (url.searchParams.has("token")) {
      // Keep the token in a cookie and take it out of the address bar and history.
      const cookie = this.#guard.tokenCookie();
      return new Response(null, {
        status: 303,
        headers: { location: "/", ...(cookie ? { "set-cookie": cookie } : {}) },
      });
    }
    const choice = langChoice(url);
    if (choice) {
      // The switch's choice, remembered; the address bar keeps the plain page.
      return new Response(null, {
        status: 303,
        headers: { location: "/", "set-cookie": choice.cookie },
      });
    }
    return respond(200, this.page(pickLang(request.headers)), "text/html; charset=utf-8");
  }

  #settingsForPage() {
    const { password, ...rest } = this.#control.settings;
    return { ...rest, password: "", passwordKnown: password !== "" };
  }

  /**
   * `POST /api/link`: the form's fields from a pasted `trojan://` link (nothing is saved), or
   * from a subscription URL (`https://…/sub/TOKEN#pcs=…`), fetched now: its link fills the
   * form and its rules are written beside the settings file, as `--sub` does.
   */
  async #link(request: Request): Promise<Response> {
    const body = await jsonBody(request);
    if (body instanceof Response) return body;
    const pasted = String((body as { link?: unknown })?.link ?? "").trim();
    if (/^https:\/\//i.test(pasted)) return await this.#subscription(pasted);
    try {
      return json(200, formFields(parseShareLink(pasted)));
    } catch (error) {
      const message = `Link: ${(error as Error).message}.`;
      return json(400, { problem: { kind: "settings", message } });
    }
  }

  async #subscription(text: string): Promise<Response> {
    let url;
    try {
      url = parseSubscriptionUrl(text);
    } catch (error) {
      const message = `Subscription: ${(error as Error).message}.`;
      return json(400, { problem: { kind: "settings", message } });
    }
    const stateDir = dirname(this.#control.options.settingsPath ?? defaultSettingsPath());
    try {
      const taken = await takeSubscription(url, stateDir, this.#control.config.handshakeTimeoutMs);
      log.info("subscription taken for {user}: {rules} rule(s)", {
        user: taken.link.user,
        rules: taken.ruleCount,
      });
      return json(200, {
        ...formFields(taken.link),
        subscription: { rules: taken.ruleCount, rulesPath: taken.rulesPath },
      });
    } catch (error) {
      const pin = error instanceof PinMismatch;
      const message = `Subscription: ${(error as Error).message}.`;
      return json(502, {
        problem: { kind: pin ? "certificate-not-trusted" : "remote-unreachable", message },
      });
    }
  }

  async #connect(request: Request): Promise<Response> {
    const body = await jsonBody(request);
    if (body instanceof Response) return body;
    try {
      await this.#control.connect(normalizeSettings(body));
      return json(200, this.status());
    } catch (error) {
      if (!(error instanceof Problem)) throw error;
      log.warn("connect failed: {message}", { message: error.message });
      const status = error.kind === "settings" || error.kind === "port-in-use" ? 400 : 502;
      return json(status, { problem: { kind: error.kind, message: error.message } });
    }
  }
}

/**
 * The state's badge and its line, as the page's script words them too (app.js `stateWords`).
 *
 * @example stateWords("en", status).badge // "listening on 127.0.0.1:1080"
 */
export function stateWords(lang: Lang, status: StatusMessage): { badge: string; line: string } {
  const params = { listen: status.listen, remote: status.remote, user: status.user };
  const badge = translate(lang, `dashboard.state.${status.shown}`, params);
  const line = status.shown === "online"
    ? translate(lang, "dashboard.session.online", params)
    : status.shown === "unreachable" || status.shown === "refused"
    ? translate(lang, "dashboard.session.down", { ...params, why: status.why ?? "" })
    : "";
  return { badge, line };
}

/**
 * The request's JSON body, or the answer refusing it (not JSON: 415 or 400).
 *
 * @throws {BodyTooLarge} past {@linkcode JSON_BODY_LIMIT} bytes (answered with 413)
 */
async function jsonBody(request: Request): Promise<unknown> {
  if (!(request.headers.get("content-type") ?? "").startsWith("application/json")) {
    return text(415, "expected application/json\n");
  }
  const body = await readBodyText(request, JSON_BODY_LIMIT);
  try {
    return JSON.parse(body);
  } catch {
    return text(400, "expected a JSON body\n");
  }
}

/** The form's fields a link fills. */
function formFields(link: ShareLink) {
  return {
    remote: formatHostPort(link),
    user: link.user,
    password: link.password,
    serverName: link.sni === link.host ? "" : link.sni,
    pin: link.pin ?? "",
  };
}
