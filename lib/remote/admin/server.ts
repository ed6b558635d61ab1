/**
 * The admin panel's HTTP server (`serve --admin`): the page, the JSON API under `/api/`, a
 * WebSocket with every user's live rates each second, and `GET /metrics`. Loopback by
 * default; any other address only over TLS with the tunnel's certificate.
 *
 * Every request passes, in order: the `Host`/`Origin` rules (403), a session for `/api/`
 * (401), and the session's CSRF token for every change (403). Nothing logs a password, a
 * session id or a token.
 */
import { LiveSockets } from "../../common/web/live_sockets.ts";
import { json, respond, text } from "../../common/web/http_replies.ts";
import { formatHostPort } from "../../protocol/address.ts";
import type { Destination } from "../../protocol/address.ts";
import { isLoopbackHost } from "../../common/security/loopback.ts";
import { WebServer } from "../../common/web/web_server.ts";
import {
  BodyTooLarge,
  JSON_BODY_LIMIT,
  LOGIN_BODY_LIMIT,
  readBodyText,
} from "../../common/web/request_body.ts";
import { logger } from "../../common/ops/logging.ts";
import { METRICS_CONTENT_TYPE, RemoteMetrics } from "../ops/metrics.ts";
import type { RemoteServer } from "../tunnel/server.ts";
import type { UserStore } from "../store/user_store.ts";
import type { UsageSampler } from "../ops/usage_sampler.ts";
import { ADMIN_ASSETS } from "./assets.ts";
import {
  addressesOf,
  addUser,
  allUsers,
  ApiError,
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
import { cookie, foreignRequest, metricsAllowed } from "./guard.ts";
import { verifyPassword } from "./password_hash.ts";
import { AdminSessions } from "./sessions.ts";
import type { AdminSession, SessionOptions } from "./sessions.ts";

import { shareUser } from "./share_api.ts";

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

/** A running admin panel. */
export class AdminServer {
  readonly #options: AdminOptions;
  readonly #server: WebServer;
  readonly #loopback: boolean;
  readonly #cookieName: string;
  readonly sessions: AdminSessions;
  readonly metrics: RemoteMetrics;
  readonly #rates = new Map<number, { up: number; down: number }>();
  #serverRate = { up: 0, down: 0 };
  readonly #sockets = new LiveSockets(() => this.live());
  readonly #unsubscribe: () => void;
  readonly #stopFollowing: () => void;

  /**
   * Binds and starts serving.
   *
   * @throws {AdminConfigError} for an address off loopback without `tls`
   * @throws {Deno.errors.AddrInUse} when the port is taken
   * @example const admin = new AdminServer({ listen, server, store, sampler });
   */
  constructor(options: AdminOptions) {
    this.#options = options;
    this.#loopback = isLoopbackHost(options.listen.host);
    if (!this.#loopback && !options.tls) {
      throw new AdminConfigError(
        `the admin panel listens on ${options.listen.host} only over TLS; bind it to 127.0.0.1 (and reach it with ssh -L) or give it the certificate`,
      );
    }
    this.#cookieName = options.tls ? "__Host-swiftproxy_admin" : "swiftproxy_admin";
    this.sessions = new AdminSessions(options.sessions);
    this.metrics = new RemoteMetrics(options.server, [{
      name: "swiftproxy_admin_login_throttled_sources",
      help: "Source addresses cooling off after too many failed admin logins.",
      value: () => this.sessions.guard.blocked(),
    }]);
    this.#stopFollowing = this.sessions.follow(
      () => options.store.adminAccount(),
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
  }

  get addr(): Deno.NetAddr {
    return this.#server.addr;
  }

  /** The panel's address, e.g. `http://127.0.0.1:9091/`. */
  get url(): string {
    const { hostname, port } = this.#server.addr;
    const host = hostname === "0.0.0.0" ? "127.0.0.1" : hostname === "::" ? "::1" : hostname;
    return `${this.#options.tls ? "https" : "http"}://${formatHostPort({ host, port })}/`;
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
    const foreign = foreignRequest(request, this.#loopback, Boolean(this.#options.tls));
    if (foreign) {
      log.warn("refused {method} {path} from {source}: {reason}", {
        method: request.method,
        path,
        source,
        reason: foreign,
      });
      return text(403, "Forbidden\n");
    }
    if (path === "/metrics" && request.method === "GET") return this.#metrics(request);
    if (path === "/api/login" && request.method === "POST") {
      return await this.#login(request, source);
    }
    if (path === "/api" || path.startsWith("/api/")) {
      const id = cookie(request, this.#cookieName);
      const session = this.sessions.find(id);
      if (!session) return json(401, { error: "not logged in" });
      if (!["GET", "HEAD"].includes(request.method)) {
        if (!this.sessions.csrfMatches(session, request.headers.get("x-csrf-token"))) {
          log.warn("refused {method} {path} from {source}: no or wrong CSRF token", {
            method: request.method,
            path,
            source,
          });
          return json(403, { error: "missing or wrong CSRF token; reload the page" });
        }
      }
      try {
        return await this.#api(request, url, session, id!);
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
    const asset = request.method === "GET" ? ADMIN_ASSETS.get(path) : undefined;
    return asset ? respond(200, asset.body, asset.type) : text(404, "Not Found\n");
  }

  #metrics(request: Request): Response {
    if (!metricsAllowed(request, this.#loopback, this.#options.metricsToken)) {
      return text(401, "Unauthorized: send Authorization: Bearer <--metrics-token>\n");
    }
    return respond(200, this.metrics.render(), METRICS_CONTENT_TYPE);
  }

  async #login(request: Request, source: string): Promise<Response> {
    const body = await readJson(request, LOGIN_BODY_LIMIT);
    const password = typeof body?.password === "string" ? body.password : "";
    const stored = await this.#options.store.adminPasswordHash();
    if (stored === undefined) {
      return json(401, {
        error: "there is no admin account yet: run swiftproxy-remote admin passwd on the server",
      });
    }
    const outcome = await this.sessions.checkLogin(source, () => verifyPassword(password, stored));
    if (outcome === "throttled") {
      log.warn("admin login from {source} refused: too many failed logins", { source });
      return json(429, {
        error: "too many failed logins; try again in a few minutes, or run " +
          "swiftproxy-remote admin unlock on the server",
      }, { "retry-after": "300" });
    }
    if (outcome === "busy") {
      return json(429, { error: "the server is checking other logins; try again" }, {
        "retry-after": "1",
      });
    }
    if (outcome === "wrong") {
      log.warn("admin login failed from {source}", { source });
      return json(401, { error: "wrong password" });
    }
    const { id, session } = this.sessions.create(stored);
    log.info("admin login from {source}", { source });
    return json(200, { csrf: session.csrf }, {
      "set-cookie": this.#cookie(id, this.sessions.ttlMs),
    });
  }

  #cookie(value: string, ttlMs: number): string {
    const secure = this.#options.tls ? "; Secure" : "";
    return `${this.#cookieName}=${value}; Path=/; HttpOnly; SameSite=Strict; Max-Age=${
      Math.floor(ttlMs / 1000)
    }${secure}`;
  }

  async #api(request: Request, url: URL, session: AdminSession, id: string): Promise<Response> {
    const deps = this.#deps;
    const route = `${request.method} ${url.pathname}`;
    const user = /^\/api\/users\/([^/]+)(?:\/([a-z-]+))?$/.exec(url.pathname);
    const connection = /^\/api\/connections\/(\d+)(?:\/disconnect)?$/.exec(url.pathname);
    if (route === "GET /api/session") return json(200, { csrf: session.csrf });
    if (route === "POST /api/logout") {
      this.sessions.end(id);
      this.#sockets.prune();
      return json(200, {}, { "set-cookie": this.#cookie("", 0) });
    }
    if (route === "GET /api/users") return json(200, this.live());
    if (route === "POST /api/users") return json(201, await addUser(deps, await body(request)));
    if (route === "POST /api/users-bulk") {
      return json(200, await bulkUsers(deps, await body(request)));
    }
    if (route === "GET /api/history") return json(200, await history(deps, url.searchParams));
    if (route === "GET /api/ws") return this.#upgrade(request, id);
    if (user) {
      const name = nameInPath(user[1]);
      const action = user[2];
      if (!action && request.method === "GET") return json(200, getUser(deps, name));
      if (!action && request.method === "PATCH") {
        return json(200, await setUser(deps, name, await body(request)));
      }
      if (!action && request.method === "DELETE") {
        await removeUser(deps, name);
        return json(200, {});
      }
      if (action === "addresses" && request.method === "GET") {
        return json(200, await addressesOf(deps, name));
      }
      if (action === "connections" && request.method === "GET") {
        return json(200, getUser(deps, name).connections);
      }
      if (action === "link" && request.method === "POST") {
        return json(200, await shareUser(deps, this.#options.server, name, await body(request)));
      }
      if (action && request.method === "POST") {
        return json(200, await userAction(deps, name, action));
      }
    }
    if (connection && ["POST", "DELETE"].includes(request.method)) {
      return json(200, disconnect(deps, Number(connection[1])));
    }
    return json(404, { error: `no API ${route}` });
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

async function body(request: Request): Promise<Record<string, unknown>> {
  if (!(request.headers.get("content-type") ?? "").startsWith("application/json")) {
    throw new ApiError(415, "expected application/json");
  }
  const value = await readJson(request, JSON_BODY_LIMIT);
  if (!value) throw new ApiError(400, "expected a JSON object");
  return value;
}
