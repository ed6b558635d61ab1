/**
 * The admin panel's HTTP server (`serve --admin`): the page, the JSON API under `/api/`, a
 * WebSocket with every user's live rates each second, and `GET /metrics`. Loopback by
 * default; any other address only over TLS with the tunnel's certificate.
 *
 * Every request passes, in order: the `Host`/`Origin` rules (403), then for `/api/` either a
 * bearer token (`admin token add`; 401 unknown or revoked, 403 a change with a read-only one)
 * or a session (401) with its CSRF token for every change (403). The routes are data
 * (`routes.ts`), described at `/api/openapi.json`. Every change is written to the audit log as
 * the admin's or the token's. Nothing logs a password, a session id, a code or a token.
 */
import { LiveSockets } from "../../common/web/live_sockets.ts";
import { json, respond, text } from "../../common/web/http_replies.ts";
import type { Destination } from "../../protocol/address.ts";
import { isLoopbackHost } from "../../common/security/loopback.ts";
import { WebServer } from "../../common/web/web_server.ts";
import { bearerToken, PageGuard } from "../../common/web/guard.ts";
import { Router, unrouted } from "../../common/web/router.ts";
import type { Route, RouteContext as PageContext } from "../../common/web/router.ts";
import {
  BodyTooLarge,
  JSON_BODY_LIMIT,
  LOGIN_BODY_LIMIT,
  readBodyText,
} from "../../common/web/request_body.ts";
import { logger } from "../../common/ops/logging.ts";
import { METRICS_CONTENT_TYPE, metricsAllowed, RemoteMetrics } from "../ops/metrics.ts";
import type { RemoteServer } from "../tunnel/server.ts";
import type { UserStore } from "../store/user_store.ts";
import type { UsageSampler } from "../ops/usage_sampler.ts";
import { ADMIN_ASSETS, adminPage } from "./assets.ts";
import { pickLang, translate } from "../../common/web/i18n.ts";
import {
  addressesOf,
  addUser,
  allUsers,
  ApiError,
  auditEntries,
  bulkUsers,
  disconnect,
  getUser,
  history,
  nameInPath,
  removeUser,
  setUser,
  userAction,
} from "./api.ts";
import type { ApiDeps } from "./api.ts";
import { hashPassword, verifyPassword } from "./password_hash.ts";
import { AdminSessions } from "./sessions.ts";
import type { AdminSession } from "./sessions.ts";
import type { AdminRoute, RouteContext } from "./routes.ts";
import { isTotpCode, newRecoveryCodes, newTotp, recoveryHash, TotpSteps } from "./two_factor.ts";
import openApi from "./openapi.json" with { type: "json" };
import { keyForToken } from "../store/user_store.ts";
import { firstAdmin } from "../store/admin_store.ts";
import { audited, record } from "../users/audit.ts";
import type { Actor } from "../users/audit.ts";
import { svgQr } from "../share/share.ts";
import type { SessionOptions } from "./sessions.ts";
import { handOver, keptShare, shareUser } from "./share_api.ts";
import { ClientRulesLocked } from "../share/client_rules_setting.ts";
import { RulesError } from "../../rules/rule.ts";

const log = logger("remote", "admin");

/** How to run the panel. */
export interface AdminOptions {
  listen: Destination;
  server: RemoteServer;
  store: UserStore;
  /** The sampler whose readings become the live rates. */
  sampler: UsageSampler;
  /** Certificate and key (PEM) to serve HTTPS with; required off loopback. */
  tls?: { cert: string; key: string };
  /** `Authorization: Bearer` token for `/metrics` off loopback. */
  metricsToken?: string;
  sessions?: SessionOptions;
}

/** Thrown when the panel would listen off loopback without TLS. */
export class AdminConfigError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "AdminConfigError";
  }
}

/** What an open route's handler gets: the request and the client's address. */
type OpenContext = PageContext & { source: string };

/** A running admin panel. */
export class AdminServer {
  readonly #options: AdminOptions;
  readonly #server: WebServer;
  readonly #guard: PageGuard<AdminSession>;
  readonly sessions: AdminSessions;
  readonly metrics: RemoteMetrics;
  readonly #rates = new Map<number, { up: number; down: number }>();
  #serverRate = { up: 0, down: 0 };
  readonly #sockets = new LiveSockets(() => this.live());
  readonly #unsubscribe: () => void;
  readonly #stopFollowing: () => void;
  /** What anyone may ask (after the guard's Host/Origin rules): the page, login, metrics. */
  readonly #open = new Router(this.#openRoutes());
  /** The API for a signed-in admin or a token. */
  readonly #router = new Router(this.#routes());
  readonly #steps = new TotpSteps();
  /** When each token's use was last written, so a busy script does not write each request. */
  readonly #touched = new Map<string, number>();
  /** A hash to check a password against for an unknown admin name: the same work either way. */
  #dummyHash: Promise<string> | undefined;

  /**
   * Binds and starts serving.
   *
   * @throws {AdminConfigError} for an address off loopback without `tls`
   * @throws {Deno.errors.AddrInUse} when the port is taken
   * @example const admin = new AdminServer({ listen, server, store, sampler });
   */
  constructor(options: AdminOptions) {
    this.#options = options;
    if (!isLoopbackHost(options.listen.host) && !options.tls) {
      throw new AdminConfigError(
        `the admin panel listens on ${options.listen.host} only over TLS; bind it to 127.0.0.1 (and reach it with ssh -L) or give it the certificate`,
      );
    }
    this.sessions = new AdminSessions(options.sessions);
    this.metrics = new RemoteMetrics(options.server, [{
      name: "swiftproxy_admin_login_throttled_sources",
      help: "Source addresses cooling off after too many failed admin logins.",
      value: () => this.sessions.guard.blocked(),
    }]);
    this.#stopFollowing = this.sessions.follow(
      () => options.store.admins(),
      () => this.#sockets.prune(),
    );
    this.#unsubscribe = options.sampler.subscribe((deltas, elapsedMs) => {
      let up = 0;
      let down = 0;
      this.#rates.clear();
      for (const d of deltas) {
        const rate = {
          up: Math.round(Math.max(0, d.up) * 1000 / elapsedMs),
          down: Math.round(Math.max(0, d.down) * 1000 / elapsedMs),
        };
        this.#rates.set(d.account.user.id, rate);
        up += rate.up;
        down += rate.down;
      }
      this.#serverRate = { up, down };
      this.#broadcast();
    });
    this.#server = new WebServer({
      hostname: options.listen.host,
      port: options.listen.port,
      ...(options.tls ? { tls: options.tls } : {}),
      handler: (request, source) => this.#handle(request, source),
    });
    this.#guard = new PageGuard({
      bound: { host: options.listen.host, port: this.#server.addr.port },
      tls: Boolean(options.tls),
      loopbackPorts: "any",
      session: {
        cookie: options.tls ? "__Host-swiftproxy_admin" : "swiftproxy_admin",
        book: this.sessions,
      },
    });
  }

  get addr(): Deno.NetAddr {
    return this.#server.addr;
  }

  /**
   * Serves a new certificate (a renewal, a SIGHUP) to the connections that open from now on,
   * when the panel is on HTTPS; open connections and WebSockets stay. False without TLS.
   *
   * @throws {Error} for a pair node:tls cannot load (the current one keeps serving)
   */
  reloadCertificate(cert: string, key: string): boolean {
    if (!this.#options.tls) return false;
    this.#server.setCertificate({ cert, key });
    return true;
  }

  /** The panel's address, e.g. `http://127.0.0.1:9091/`. */
  get url(): string {
    return this.#server.url;
  }

  get #deps(): ApiDeps {
    return {
      store: this.#options.store,
      accounts: this.#options.server.accounts,
      rates: this.#rates,
    };
  }

  /** The message every WebSocket gets each second: all users and the server's rate. */
  live(): { type: "users"; at: number; server: object; users: object[] } {
    return {
      type: "users",
      at: Date.now(),
      server: {
        rate: this.#serverRate,
        open: this.#options.server.accounts.openSessions,
      },
      users: allUsers(this.#deps),
    };
  }

  #broadcast(): void {
    this.#sockets.broadcast();
  }

  async #handle(request: Request, source: string): Promise<Response> {
    const url = new URL(request.url);
    const path = url.pathname;
    const refusal = this.#guard.check(request);
    if (refusal) {
      log.warn("refused {method} {path} from {source}: {reason}", {
        method: request.method,
        path,
        source,
        reason: refusal.reason,
      });
      return text(403, "Forbidden\n");
    }
    const open = this.#open.find(request.method, path);
    if (open.route) return await open.route.handle({ request, url, params: open.params, source });
    if (open.allow.length > 0) return unrouted(open.allow);
    if (path === "/api" || path.startsWith("/api/")) {
      try {
        return await this.#api(request, url, source);
      } catch (error) {
        if (error instanceof ApiError) return json(error.status, { error: error.message });
        if (error instanceof BodyTooLarge) throw error;
        log.error("admin API {method} {path} failed: {error}", {
          method: request.method,
          path,
          error,
        });
        return json(500, { error: "the server failed; see its log" });
      }
    }
    return unrouted([]);
  }

  /** The routes anyone may ask: the page's files, `/metrics` (its own check), the login. */
  #openRoutes(): Route<OpenContext>[] {
    return [
      { method: "GET", path: "/metrics", handle: ({ request }) => this.#metrics(request) },
      {
        method: "POST",
        path: "/api/login",
        handle: ({ request, source }) => this.#login(request, source),
      },
      {
        method: "GET",
        path: "/api/login",
        handle: async () => json(200, { askName: (await this.#options.store.admins()).length > 1 }),
      },
      { method: "GET", path: "/api/openapi.json", handle: () => json(200, openApi) },
      // The page, in the language asked for (and the language switch's link).
      { method: "GET", path: "/", handle: ({ request, url }) => adminPage(url, request.headers) },
      ...ADMIN_ASSETS.routes(),
    ];
  }

  #metrics(request: Request): Response {
    if (!metricsAllowed(request, this.#guard.loopback, this.#options.metricsToken)) {
      return text(401, "Unauthorized: send Authorization: Bearer <--metrics-token>\n");
    }
    return respond(200, this.metrics.render(), METRICS_CONTENT_TYPE);
  }

  async #login(request: Request, source: string): Promise<Response> {
    const body = await readJson(request, LOGIN_BODY_LIMIT);
    const field = (key: string) => typeof body?.[key] === "string" ? String(body[key]).trim() : "";
    const password = typeof body?.password === "string" ? body.password : "";
    const [name, code] = [field("name"), field("code")];
    const store = this.#options.store;
    const admins = await store.admins();
    // The page's fetch carries its language (the switch's cookie, Accept-Language).
    const lang = pickLang(request.headers);
    const words = (key: string) => translate(lang, `admin.error.${key}`);
    if (admins.length === 0) return json(401, { error: words("noAdmin") });
    const admin = name ? admins.find((a) => a.name === name) : firstAdmin(admins);
    let needCode = false;
    let wrongCode = false;
    const outcome = await this.sessions.checkLogin(source, async () => {
      this.#dummyHash ??= hashPassword(crypto.randomUUID());
      if (!await verifyPassword(password, admin?.hash ?? await this.#dummyHash) || !admin) {
        return false;
      }
      if (!admin.totpSecret) return true;
      if (!code) return needCode = true;
      const right = isTotpCode(code)
        ? this.#steps.accept(admin.name, admin.totpSecret, code)
        : await audited(store, { who: admin.name, source })
          .useRecoveryCode(admin.name, recoveryHash(code));
      wrongCode = !right;
      return right;
    });
    if (outcome === "throttled") {
      log.warn("admin login from {source} refused: too many failed logins", { source });
      return json(429, { error: words("throttled") }, { "retry-after": "300" });
    }
    if (outcome === "busy") {
      return json(429, { error: words("busy") }, {
        "retry-after": "1",
      });
    }
    if (outcome === "wrong") {
      log.warn("admin login failed from {source}", { source });
      return json(401, {
        error: words(wrongCode ? "wrongCode" : admins.length > 1 ? "wrongName" : "wrongPassword"),
        ...(wrongCode ? { needCode: true } : {}),
      });
    }
    if (needCode) {
      return json(401, { error: words("needCode"), needCode: true });
    }
    const { id, session } = this.sessions.create(admin!.name, admin!.hash);
    log.info("admin {admin} signed in from {source}", { admin: admin!.name, source });
    return json(200, { csrf: session.csrf }, {
      "set-cookie": this.#guard.sessionCookie(id, this.sessions.ttlMs),
    });
  }

  /** The routes under `/api/`, as `/api/openapi.json` documents them. */
  get routes(): readonly { method: string; path: string }[] {
    return [...this.#open.routes, ...this.#router.routes].filter((r) => r.path.startsWith("/api/"));
  }

  /**
   * Who calls: a bearer token (checked against the stored hashes) or the session of the
   * cookie, with its CSRF token for a change; then the route.
   */
  async #api(request: Request, url: URL, source: string): Promise<Response> {
    const method = request.method === "HEAD" ? "GET" : request.method;
    const reading = method === "GET";
    const bearer = bearerToken(request);
    let actor: Actor;
    let session: RouteContext["session"];
    let readOnly = false;
    if (bearer !== undefined) {
      const token = await this.#options.store.findToken(keyForToken(bearer));
      if (!token) {
        log.warn("refused {method} {path} from {source}: unknown or revoked token", {
          method,
          path: url.pathname,
          source,
        });
        return json(401, { error: "unknown or revoked token" });
      }
      actor = { who: `token:${token.name}`, source };
      readOnly = token.readOnly;
      this.#touch(token.name);
    } else {
      // At every request, so a removed admin or a new password ends the session at once.
      this.sessions.adminsAre(await this.#options.store.admins());
      const found = this.#guard.session(request);
      if ("reason" in found && found.status === 401) return json(401, { error: "not logged in" });
      if ("reason" in found) {
        log.warn("refused {method} {path} from {source}: {reason}", {
          method,
          path: url.pathname,
          source,
          reason: found.reason,
        });
        return json(403, { error: "missing or wrong CSRF token; reload the page" });
      }
      actor = { who: found.session.admin, source };
      session = found;
    }
    const match = this.#router.find(method, url.pathname);
    if (!match.route) {
      if (match.allow.length === 0) return json(404, { error: `no API ${method} ${url.pathname}` });
      const allow = match.allow.join(", ");
      return json(405, { error: `${url.pathname} takes ${allow}, not ${method}` }, { allow });
    }
    if (match.route.sessionOnly && !session) {
      return json(403, { error: "only a signed-in admin can do this, not a token" });
    }
    if (readOnly && !reading) {
      log.warn("refused {method} {path} from {source}: {actor} is read-only", {
        method,
        path: url.pathname,
        source,
        actor: actor.who,
      });
      return json(403, { error: "this token is read-only" });
    }
    const deps = { ...this.#deps, store: audited(this.#options.store, actor) };
    return await match.route.handle({
      request,
      url,
      params: match.params,
      actor,
      deps,
      ...(session ? { session } : {}),
    });
  }

  /** Records a token's use, at most once a minute. */
  #touch(name: string): void {
    const now = Date.now();
    if (now - (this.#touched.get(name) ?? 0) < 60_000) return;
    this.#touched.set(name, now);
    this.#options.store.touchToken(name, now).catch(() => {});
  }

  #routes(): AdminRoute[] {
    const user = (c: RouteContext) => nameInPath(c.params.name!);
    const action = (verb: string): AdminRoute => ({
      method: "POST",
      path: `/api/users/{name}/${verb}`,
      handle: async (c) => json(200, await userAction(c.deps, user(c), verb)),
    });
    const disconnectOne = async (c: RouteContext) => {
      const id = Number(c.params.id);
      if (!/^\d+$/.test(c.params.id!)) throw new ApiError(404, `no open connection ${c.params.id}`);
      const answer = disconnect(c.deps, id);
      await record(c.deps.store, c.actor, "connection.disconnect", answer.user, undefined, { id });
      return json(200, answer);
    };
    return [
      {
        method: "GET",
        path: "/api/session",
        sessionOnly: true,
        handle: async (c) => {
          const admin = (await c.deps.store.admins()).find((a) => a.name === c.actor.who);
          return json(200, {
            csrf: c.session!.session.csrf,
            admin: c.actor.who,
            twoFactor: Boolean(admin?.totpSecret),
            recoveryCodesLeft: admin?.recovery.length ?? 0,
          });
        },
      },
      {
        method: "POST",
        path: "/api/logout",
        sessionOnly: true,
        handle: (c) => {
          this.sessions.end(c.session!.id);
          this.#sockets.prune();
          return json(200, {}, { "set-cookie": this.#guard.sessionCookie("", 0) });
        },
      },
      { method: "GET", path: "/api/users", handle: () => json(200, this.live()) },
      {
        method: "POST",
        path: "/api/users",
        handle: async (c) => {
          const given = await body(c.request);
          const added = await addUser(c.deps, given);
          // Shown together, as the CLI prints them: password, link, QR code, subscription URL.
          const password = added.password ?? String(given.password);
          const share = await handOver(c.deps, this.#options.server, added.user.name, password)
            .catch((error) => ({ error: (error as Error).message }));
          return json(201, { ...added, share });
        },
      },
      {
        method: "POST",
        path: "/api/users-bulk",
        handle: async (c) => json(200, await bulkUsers(c.deps, await body(c.request))),
      },
      {
        method: "GET",
        path: "/api/users/{name}/addresses",
        handle: async (c) => json(200, await addressesOf(c.deps, user(c))),
      },
      {
        method: "GET",
        path: "/api/history",
        handle: async (c) => json(200, await history(c.deps, c.url.searchParams)),
      },
      {
        method: "GET",
        path: "/api/ws",
        sessionOnly: true,
        handle: (c) => this.#upgrade(c.request, c.session!.id),
      },
      {
        method: "GET",
        path: "/api/users/{name}",
        handle: (c) => json(200, getUser(c.deps, user(c))),
      },
      {
        method: "PATCH",
        path: "/api/users/{name}",
        handle: async (c) => json(200, await setUser(c.deps, user(c), await body(c.request))),
      },
      {
        method: "DELETE",
        path: "/api/users/{name}",
        handle: async (c) => {
          await removeUser(c.deps, user(c));
          this.#options.server.linkVault?.forget(user(c));
          return json(200, {});
        },
      },
      {
        method: "GET",
        path: "/api/users/{name}/connections",
        handle: (c) => json(200, getUser(c.deps, user(c)).connections),
      },
      {
        method: "GET",
        path: "/api/users/{name}/link",
        handle: async (c) => json(200, await keptShare(c.deps, this.#options.server, user(c))),
      },
      {
        method: "POST",
        path: "/api/users/{name}/link",
        handle: async (c) =>
          json(200, await shareUser(c.deps, this.#options.server, user(c), await body(c.request))),
      },
      action("enable"),
      action("disable"),
      action("reset-usage"),
      { method: "POST", path: "/api/connections/{id}/disconnect", handle: disconnectOne },
      { method: "DELETE", path: "/api/connections/{id}", handle: disconnectOne },
      {
        method: "GET",
        path: "/api/audit",
        handle: async (c) => json(200, await auditEntries(c.deps, c.url.searchParams)),
      },
      ...this.#clientRulesRoutes(),
      ...this.#twoFactorRoutes(),
    ];
  }

  /** The client rules every subscription carries: shown, and set when no flag set them. */
  #clientRulesRoutes(): AdminRoute[] {
    const setting = () => {
      const found = this.#options.server.clientRules;
      if (!found) throw new ApiError(404, "this server keeps no client rules");
      return found;
    };
    return [
      { method: "GET", path: "/api/client-rules", handle: () => json(200, setting().view()) },
      {
        method: "POST",
        path: "/api/client-rules",
        handle: async (c) => {
          const given = (await body(c.request, CLIENT_RULES_LIMIT)).text;
          if (typeof given !== "string") {
            throw new ApiError(400, "text: expected the rules file as text (empty for none)");
          }
          const before = setting().view();
          let view;
          try {
            view = await setting().replace(given);
          } catch (error) {
            if (error instanceof ClientRulesLocked) throw new ApiError(409, error.message);
            if (error instanceof RulesError) throw new ApiError(400, error.message);
            throw error;
          }
          await record(c.deps.store, c.actor, "client-rules.set", "client-rules", {
            rules: before.rules,
            providers: before.providers,
          }, { rules: view.rules, providers: view.providers });
          log.info("admin: client rules set: {rules} rule(s)", { rules: view.rules });
          return json(200, view);
        },
      },
    ];
  }

  /** Two-factor enrolment, for the signed-in admin only. */
  #twoFactorRoutes(): AdminRoute[] {
    return [
      {
        method: "POST",
        path: "/api/2fa",
        sessionOnly: true,
        handle: (c) => {
          const { secret, uri } = newTotp(c.actor.who);
          c.session!.session.pendingTotp = secret;
          return json(200, { secret, uri, qr: svgQr(uri) });
        },
      },
      {
        method: "POST",
        path: "/api/2fa/confirm",
        sessionOnly: true,
        handle: async (c) => {
          const secret = c.session!.session.pendingTotp;
          if (!secret) throw new ApiError(409, "start the enrolment first");
          const code = (await body(c.request)).code;
          if (typeof code !== "string" || !this.#steps.accept(c.actor.who, secret, code)) {
            throw new ApiError(400, "code: expected the six digits the app shows now");
          }
          const { codes, hashes } = newRecoveryCodes();
          await c.deps.store.putAdmin(c.actor.who, { totpSecret: secret, recovery: hashes });
          delete c.session!.session.pendingTotp;
          return json(200, { recoveryCodes: codes });
        },
      },
      {
        method: "DELETE",
        path: "/api/2fa",
        sessionOnly: true,
        handle: async (c) => {
          await c.deps.store.putAdmin(c.actor.who, { totpSecret: null, recovery: [] });
          return json(200, {});
        },
      },
    ];
  }

  #upgrade(request: Request, id: string): Response {
    return this.#sockets.upgrade(request, () => this.sessions.find(id) !== undefined);
  }

  /** Closes the WebSockets and stops serving. */
  async stop(): Promise<void> {
    this.#unsubscribe();
    this.#stopFollowing();
    this.metrics.stop();
    this.#sockets.closeAll("the server is stopping");
    await this.#server.shutdown();
  }
}

/** @throws {BodyTooLarge} past `limit` bytes (answered with 413) */
async function readJson(request: Request, limit: number): Promise<Record<string, unknown> | null> {
  const text = await readBodyText(request, limit);
  try {
    const value = JSON.parse(text);
    return value && typeof value === "object" && !Array.isArray(value) ? value : null;
  } catch {
    return null;
  }
}

/** The panel's client rules at most: longer lists belong in a provider by URL. */
const CLIENT_RULES_LIMIT = 1024 * 1024;

async function body(request: Request, limit = JSON_BODY_LIMIT): Promise<Record<string, unknown>> {
  if (!(request.headers.get("content-type") ?? "").startsWith("application/json")) {
    throw new ApiError(415, "expected application/json");
  }
  const value = await readJson(request, limit);
  if (!value) throw new ApiError(400, "expected a JSON object");
  return value;
}
