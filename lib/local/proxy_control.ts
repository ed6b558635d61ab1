/**
 * Starts and stops the proxy listener for the dashboard (and the command line), after the
 * login check, and keeps what the page shows: state, account, the last problem.
 */
import { formatHostPort, parseHostPort } from "../protocol/address.ts";
import type { Destination } from "../protocol/address.ts";
import { logger } from "../common/logging.ts";
import { SessionEvents } from "../common/session_events.ts";
import { ConnectionTable } from "./connections.ts";
import { LocalServer } from "./server.ts";
import type { RemoteEndpoint } from "./tunnel.ts";
import { saveSettings } from "./settings.ts";
import type { Settings } from "./settings.ts";
import type { LocalConfig } from "./config.ts";
import { checkAccount } from "./account_check.ts";
import type { AccountStatus } from "./account_check.ts";
import { Problem } from "./problems.ts";

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
  readonly #watchers = new Set<() => void>();

  constructor(settings: Settings, config: LocalConfig, options: ProxyControlOptions = {}) {
    this.settings = settings;
    this.config = config;
    this.options = options;
  }

  /** The proxy listener's bound address while listening. */
  get listenAddress(): Deno.NetAddr | null {
    return this.#server?.addr ?? null;
  }

  /** Calls `watcher` after every change of state, account or problem; returns an unsubscribe. */
  watch(watcher: () => void): () => void {
    this.#watchers.add(watcher);
    return () => this.#watchers.delete(watcher);
  }

  /**
   * Checks the login (unless `check` is false), then starts the listener with `settings`
   * (an empty password keeps the one already known) and saves them (unless `save` is false).
   *
   * @throws {Problem} bad settings, port in use, remote unreachable, certificate not trusted,
   *   login refused, not a SwiftProxy remote
   */
  async connect(
    settings: Settings,
    { check = true, save = true } = {},
  ): Promise<AccountStatus | null> {
    if (this.state === "connecting") {
      throw new Problem("settings", "Already connecting; wait a moment.");
    }
    const merged = { ...settings, password: settings.password || this.settings.password };
    this.settings = merged;
    this.problem = null;
    try {
      const listen = address("Listen address", merged.listen, "127.0.0.1:1080", "127.0.0.1");
      const endpoint = await this.#endpoint(merged);
      this.state = "connecting";
      this.#changed();
      // The running listener (if any) keeps serving until the new settings prove to work.
      const account = check ? await checkAccount(endpoint, this.options.answerMs) : null;
      await this.disconnect();
      this.#server = this.#listen(listen, endpoint);
      this.#inUse = endpoint;
      this.account = account;
      this.state = "listening";
      log.info("proxy listening on {address}, remote {remote}", {
        address: formatHostPort({ host: this.#server.addr.hostname, port: this.#server.addr.port }),
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
      this.#startRefresh();
      return account;
    } catch (error) {
      this.state = this.#server ? "listening" : "stopped";
      this.problem = error instanceof Problem
        ? error
        : new Problem("settings", `Could not start: ${(error as Error).message}`);
      throw this.problem;
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

  async #endpoint(settings: Settings): Promise<RemoteEndpoint> {
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
    return {
      remote,
      user: settings.user,
      password: settings.password,
      caCerts,
      serverName: settings.serverName || undefined,
      timeoutMs: this.config.handshakeTimeoutMs,
      preconnect: this.config.preconnect,
    };
  }

  #listen(listen: Destination, endpoint: RemoteEndpoint): LocalServer {
    try {
      const server = new LocalServer({ ...this.config, listen, endpoint }, this.connections);
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
        this.account = account;
        this.problem = null;
      }
      return account;
    } catch (error) {
      const problem = error instanceof Problem
        ? error
        : new Problem("remote-unreachable", `Account check failed: ${(error as Error).message}.`);
      if (this.#inUse === endpoint) this.problem = problem;
      throw problem;
    } finally {
      if (this.#inUse === endpoint) this.#changed();
    }
  }

  /** Asks for the account now and then while listening, so usage and expiry stay current. */
  #startRefresh(): void {
    const every = this.options.refreshMs ?? 15_000;
    if (every <= 0) return;
    this.#refresh = setInterval(() => this.checkAccount().catch(() => {}), every);
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
