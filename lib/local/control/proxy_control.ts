/**
 * Starts and stops the proxy listener for the dashboard (and the command line), after the
 * login check, and keeps what the page shows: state, account, the last problem.
 */
import { formatHostPort, parseHostPort } from "../../protocol/address.ts";
import type { Destination } from "../../protocol/address.ts";
import { logger } from "../../common/ops/logging.ts";
import { SessionEvents } from "../../common/ops/session_events.ts";
import { ConnectionTable } from "../inbound/connections.ts";
import { LocalServer } from "../inbound/server.ts";
import type { RemoteEndpoint } from "../tunnel/tunnel.ts";
import type { Route } from "../tunnel/route.ts";
import { FILE_ONLY_FIELDS, keptPasswordRefusal, saveSettings } from "./settings.ts";
import type { Settings } from "./settings.ts";
import type { LocalConfig } from "../inbound/config.ts";
import { checkAccount } from "../tunnel/account_check.ts";
import type { AccountStatus } from "../tunnel/account_check.ts";
import { Problem } from "../tunnel/problems.ts";
import {
  PinMismatch,
  pinnedCertificate,
  PinnedNameMismatch,
} from "../tunnel/pinned_certificate.ts";
import { isLoopbackHost } from "../../common/security/loopback.ts";

/** Where the proxy listener is in its life. */
export type ProxyState = "stopped" | "connecting" | "listening";

/** How the control itself behaves (the listeners get the {@linkcode LocalConfig}). */
export interface ProxyControlOptions {
  /** Settings file to save to after a successful Connect; none: not saved. */
  settingsPath?: string;
  /** How long the remote gets to answer the account check. */
  answerMs?: number;
  /** How often the account is asked for again while listening; 0: never. */
  refreshMs?: number;
  /** How often instead while traffic flows through the proxy (at most `refreshMs`). */
  busyRefreshMs?: number;
}

const log = logger("local", "dashboard");

/** The proxy listener as a thing with Connect and Disconnect. */
export class ProxyControl {
  readonly connections = new ConnectionTable();
  /**
   * Finished client connections of every listener this control starts, one subscription for
   * the life of the process (each listener's own `events` ends with it; its access log is
   * subscribed there).
   */
  readonly events = new SessionEvents();
  readonly config: LocalConfig;
  readonly options: ProxyControlOptions;
  settings: Settings;
  state: ProxyState = "stopped";
  account: AccountStatus | null = null;
  problem: Problem | null = null;
  #server: LocalServer | null = null;
  /** The remote and login the listener uses, while listening. */
  #inUse: RemoteEndpoint | null = null;
  #refresh: ReturnType<typeof setInterval> | undefined;
  /** The problem the last account check found (cleared by its next answer), if any. */
  #checkProblem: Problem | null = null;
  readonly #watchers = new Set<() => void>();

  constructor(settings: Settings, config: LocalConfig, options: ProxyControlOptions = {}) {
    this.settings = settings;
    this.config = config;
    this.options = options;
  }

  /** The route through the remote while listening (rule-providers are fetched on it). */
  get proxyRoute(): Route | null {
    return this.#server?.proxyRoute ?? null;
  }

  /** The proxy listener's bound address while listening. */
  get listenAddress(): Deno.NetAddr | null {
    return this.#server?.addr ?? null;
  }

  /**
   * While listening, why the last account check failed (the remote unreachable, the login
   * refused, …), until a check passes; null when it passed, or when not listening.
   */
  get remoteProblem(): Problem | null {
    return this.state === "listening" ? this.#checkProblem : null;
  }

  /** True while the proxy listens where others can reach it without a SOCKS5 login. */
  get openProxy(): boolean {
    const bound = this.listenAddress;
    return bound !== null && !this.config.clientAuth && !isLoopbackHost(bound.hostname);
  }

  /** Calls `watcher` after every change of state, account or problem; returns an unsubscribe. */
  watch(watcher: () => void): () => void {
    this.#watchers.add(watcher);
    return () => this.#watchers.delete(watcher);
  }

  /**
   * Checks the login (unless `check` is false), then starts the listener with `settings`
   * (an empty password keeps the one already known, unless the remote, account or
   * certificate changed) and saves them (unless `save` is false). When it fails while
   * listening, the running session goes on with the previous settings, and the problem says
   * so.
   *
   * @throws {Problem} bad settings, password needed again, port in use, remote unreachable,
   *   certificate not trusted, login refused, not a SwiftProxy remote
   */
  async connect(
    settings: Settings,
    { check = true, save = true } = {},
  ): Promise<AccountStatus | null> {
    if (this.state === "connecting") {
      throw new Problem("settings", "Already connecting; wait a moment.");
    }
    const previous = this.settings;
    const merged = { ...settings, password: settings.password || previous.password };
    for (const key of FILE_ONLY_FIELDS) {
      if (merged[key] === undefined && previous[key] !== undefined) merged[key] = previous[key];
    }
    this.problem = null;
    try {
      const refusal = keptPasswordRefusal(previous, settings, this.#sharesAccount(settings));
      if (refusal) throw new Problem("settings", refusal);
      this.settings = merged;
      const listen = address("Listen address", merged.listen, "127.0.0.1:1080", "127.0.0.1");
      const endpoint = await this.#endpoint(merged, check);
      this.state = "connecting";
      this.#changed();
      // The running listener (if any) keeps serving until the new settings prove to work.
      const account = check ? await checkAccount(endpoint, this.options.answerMs) : null;
      await this.disconnect();
      this.#server = this.#listen(listen, endpoint);
      this.#inUse = endpoint;
      this.account = account;
      this.#checkProblem = null;
      this.state = "listening";
      const where = formatHostPort({
        host: this.#server.addr.hostname,
        port: this.#server.addr.port,
      });
      log.info("proxy listening on {address}, remote {remote}", {
        address: where,
        remote: merged.remote,
      });
      if (save && this.options.settingsPath) {
        await saveSettings(this.options.settingsPath, merged).catch((error) =>
          log.warn("cannot save the settings to {path}: {error}", {
            path: this.options.settingsPath,
            error,
          })
        );
      }
      if (this.openProxy) {
        log.warn(
          "listening on {address} without --socks-user: anyone who can reach it can use your account (an open proxy)",
          { address: where },
        );
      }
      this.#startRefresh();
      return account;
    } catch (error) {
      const running = this.#server !== null;
      this.state = running ? "listening" : "stopped";
      let problem = error instanceof Problem
        ? error
        : new Problem("settings", `Could not start: ${(error as Error).message}`);
      if (running) {
        this.settings = previous;
        problem = new Problem(
          problem.kind,
          `${problem.message} Still connected as ${previous.user} to ${previous.remote} ` +
            `with the previous settings.`,
        );
      }
      this.problem = problem;
      throw problem;
    } finally {
      this.#changed();
    }
  }

  /** Stops the listener and closes all its connections; a no-op when stopped. */
  async disconnect(): Promise<void> {
    clearInterval(this.#refresh);
    this.#refresh = undefined;
    const server = this.#server;
    this.#server = null;
    this.#inUse = null;
    if (server) {
      await server.stop();
      log.info("proxy stopped");
    }
    if (this.state !== "stopped") {
      this.state = "stopped";
      this.#changed();
    }
  }

  /** Whether listening on `settings.listen` would make an open proxy. */
  #sharesAccount(settings: Settings): boolean {
    if (this.config.clientAuth) return false;
    try {
      return !isLoopbackHost(parseHostPort(settings.listen.trim(), "127.0.0.1").host);
    } catch {
      return false; // the listen address itself is refused with its own message
    }
  }

  /**
   * The remote and login of `settings`. With `fetchPin`, a pinned certificate is fetched and
   * compared now (Connect says why it does not match); without, at the first tunnel, so the
   * command line listens anyway, as for its other start-up checks.
   */
  async #endpoint(settings: Settings, fetchPin = true): Promise<RemoteEndpoint> {
    const remote = address("Remote", settings.remote, "vpn.example.org:8443");
    if (!settings.user) throw new Problem("settings", "Enter the account name.");
    if (!settings.password) throw new Problem("settings", "Enter the password.");
    let caCerts: string[] | undefined;
    if (settings.ca) {
      try {
        caCerts = [await Deno.readTextFile(settings.ca)];
      } catch (error) {
        throw new Problem(
          "settings",
          `CA file: cannot read "${settings.ca}": ${(error as Error).message}.`,
        );
      }
    }
    if (settings.pin && !/^[0-9a-f]{64}$/.test(settings.pin)) {
      throw new Problem(
        "settings",
        "Pinned certificate: expected the SHA-256 fingerprint of the remote's certificate " +
          "(64 hex digits, as in a link's pcs=), or leave it empty and give a CA file.",
      );
    }
    if (settings.pin && fetchPin) caCerts = [await this.#pinned(remote, settings)];
    return {
      remote,
      user: settings.user,
      password: settings.password,
      caCerts,
      pin: settings.pin || undefined,
      serverName: settings.serverName || undefined,
      timeoutMs: this.config.handshakeTimeoutMs,
      preconnect: this.config.preconnect,
    };
  }

  /** The remote's certificate, once it matches the settings' pin; a {@linkcode Problem} if not. */
  async #pinned(remote: Destination, settings: Settings): Promise<string> {
    const where = formatHostPort(remote);
    try {
      return await pinnedCertificate(
        remote,
        settings.serverName || remote.host,
        settings.pin!,
        this.config.handshakeTimeoutMs,
      );
    } catch (error) {
      if (error instanceof PinMismatch) {
        throw new Problem(
          "certificate-not-trusted",
          `Certificate not trusted: ${where} showed a certificate whose SHA-256 is ` +
            `${error.found}, not the pinned ${error.pin}. Someone may be in between; ask the ` +
            `remote's admin for a new link.`,
        );
      }
      if (error instanceof PinnedNameMismatch) {
        throw new Problem(
          "certificate-not-trusted",
          `Wrong server name: ${where} showed the pinned certificate, but it is not issued for ` +
            `"${error.serverName}" (it names ${error.names}). Set "Server name" to one of ` +
            `those, or ask the remote's admin for a new link.`,
        );
      }
      throw new Problem(
        "remote-unreachable",
        `Remote unreachable: ${where}: cannot check its pinned certificate (${
          (error as Error).message
        }).`,
      );
    }
  }

  #listen(listen: Destination, endpoint: RemoteEndpoint): LocalServer {
    try {
      const server = new LocalServer(
        { ...this.config, listen, endpoint, check: () => this.checkAccount() },
        this.connections,
      );
      server.events.subscribe((end) => this.events.publish(end));
      return server;
    } catch (error) {
      const where = formatHostPort(listen);
      if (error instanceof Deno.errors.AddrInUse) {
        throw new Problem(
          "port-in-use",
          `Port in use: ${where} is already taken by another program; choose another listen address.`,
        );
      }
      if (error instanceof Deno.errors.PermissionDenied) {
        throw new Problem(
          "settings",
          `Listen address: ${where} needs administrator rights; use a port above 1023.`,
        );
      }
      if (error instanceof Deno.errors.AddrNotAvailable) {
        throw new Problem(
          "settings",
          `Listen address: ${where} is not an address of this computer.`,
        );
      }
      throw new Problem(
        "settings",
        `Listen address: cannot listen on ${where}: ${(error as Error).message}.`,
      );
    }
  }

  /**
   * Asks the remote for the account now, with the login the listener uses, and keeps the
   * answer (or the problem) for the page. Connect with `check: false` leaves this to the caller.
   * An answer clears the problem a check found, not one a Connect left (that stays until the
   * user acts).
   *
   * @throws {Problem} not listening, or why the check failed (see {@linkcode checkAccount})
   * @example const account = await control.checkAccount();
   */
  async checkAccount(): Promise<AccountStatus> {
    const endpoint = this.#inUse;
    if (!endpoint) throw new Problem("settings", "Not connected: nothing to check.");
    try {
      const account = await checkAccount(endpoint, this.options.answerMs);
      if (this.#inUse === endpoint) {
        this.#server?.diagnosis.learn(account);
        this.account = account;
        if (this.problem === this.#checkProblem) this.problem = null;
        this.#checkProblem = null;
      }
      return account;
    } catch (error) {
      const problem = error instanceof Problem
        ? error
        : new Problem("remote-unreachable", `Account check failed: ${(error as Error).message}.`);
      if (this.#inUse === endpoint) {
        this.#server?.diagnosis.learn(problem);
        this.problem = this.#checkProblem = problem;
      }
      throw problem;
    } finally {
      if (this.#inUse === endpoint) this.#changed();
    }
  }

  /**
   * Asks for the account now and then while listening, so usage and expiry stay current:
   * every `busyRefreshMs` (2 s) while bytes move or connections open or close, else every
   * `refreshMs` (15 s); one question at a time.
   */
  #startRefresh(): void {
    const every = this.options.refreshMs ?? 15_000;
    if (every <= 0) return;
    const busyEvery = Math.min(this.options.busyRefreshMs ?? 2_000, every);
    const table = this.connections;
    const activity = () => `${table.totalUp} ${table.totalDown} ${table.size}`;
    let asked = { at: performance.now(), activity: activity() };
    let asking = false;
    this.#refresh = setInterval(() => {
      const moved = activity();
      const due = moved === asked.activity ? every : busyEvery;
      if (asking || performance.now() - asked.at < due) return;
      asked = { at: performance.now(), activity: moved };
      asking = true;
      this.checkAccount().catch(() => {}).finally(() => asking = false);
    }, busyEvery);
  }

  #changed(): void {
    for (const watcher of this.#watchers) watcher();
  }
}

function address(label: string, text: string, example: string, defaultHost = ""): Destination {
  if (!text) {
    throw new Problem("settings", `Enter the ${label.toLowerCase()} (example: ${example}).`);
  }
  try {
    const destination = parseHostPort(text.trim(), defaultHost);
    if (!destination.host) throw new Error("no host");
    return destination;
  } catch {
    throw new Problem(
      "settings",
      `${label}: expected host:port, got "${text}" (example: ${example}).`,
    );
  }
}
