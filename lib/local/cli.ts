/** The `swiftproxy-local` command line. */
import type { Command } from "commander";
import {
  addLogOptions,
  hostPortArg,
  hostPortArgLike,
  integerArg,
  logOptions,
  program,
  run,
  secondsArg,
  usageError,
} from "../common/ops/cli.ts";
import { logger, setupLogging, stopLogging } from "../common/ops/logging.ts";
import { onSignal, shutdownSignal } from "../common/ops/signals.ts";
import { shortPassword } from "../common/security/password_floor.ts";
import { formatHostPort } from "../protocol/address.ts";
import { parseShareLink } from "../protocol/share_link.ts";
import type { Destination } from "../protocol/address.ts";
import { defaultSettingsPath, loadSettings } from "./control/settings.ts";
import type { Settings } from "./control/settings.ts";
import { ProxyControl } from "./control/proxy_control.ts";
import { AccountWatch } from "./control/account_watch.ts";
import { LocalRules } from "./control/local_rules.ts";
import { ProviderRefresh } from "./control/rule_providers.ts";
import { RulesError } from "../rules/mod.ts";
import { LOCAL_DEFAULTS } from "./inbound/config.ts";
import type { LocalConfig } from "./inbound/config.ts";
import { DashboardServer } from "./dashboard/server.ts";
import { generateToken } from "../common/web/guard.ts";
import { isLoopbackHost } from "../common/security/loopback.ts";
import { SubscriptionRefresh, takeSubscription } from "./control/subscription.ts";
import type { TakenSubscription } from "./control/subscription.ts";
import { parseSubscriptionUrl } from "./tunnel/subscription_fetch.ts";
import { dirname } from "node:path";

interface LocalOptions {
  listen: Destination;
  remote?: Destination;
  user?: string;
  password?: string;
  ca?: string;
  serverName?: string;
  link?: string;
  sub?: string;
  handshakeTimeout: number;
  idleTimeout: number;
  maxHandshakes: number;
  preconnect: number;
  mux: number;
  socksUser?: string;
  socksPass?: string;
  /** `false` with `--no-ui`. */
  ui: Destination | false;
  uiToken?: string;
  config?: string;
  rules?: string;
  directCountry?: string;
}

/** The settings file overlaid with what the command line and environment give. */
async function settingsFrom(
  options: LocalOptions,
  command: Command,
  path: string,
): Promise<Settings> {
  let settings: Settings;
  try {
    settings = await loadSettings(path);
  } catch (error) {
    usageError(`option '--config <file>': ${(error as Error).message}`);
  }
  const given = (name: string) => command.getOptionValueSource(name) === "cli";
  if (given("listen")) settings.listen = formatHostPort(options.listen);
  if (options.remote) settings.remote = formatHostPort(options.remote);
  if (options.user) settings.user = options.user;
  if (options.ca) settings.ca = options.ca;
  if (options.serverName) settings.serverName = options.serverName;
  if (options.rules) settings.rules = options.rules;
  if (options.directCountry) settings.directCountry = options.directCountry;
  const password = options.password ?? Deno.env.get("SWIFTPROXY_PASSWORD");
  if (password) settings.password = password;
  // The link holds the password: the variable keeps it out of `ps`.
  const link = options.link ?? Deno.env.get("SWIFTPROXY_LINK");
  if (link) applyLink(settings, link);
  return settings;
}

/**
 * `--sub URL` (or `SWIFTPROXY_SUB`): the subscription fetched and taken, its link over the
 * settings; null without one. A URL that is not one is a usage error (exit 2); a fetch that
 * fails stops the start (exit 1).
 */
async function subscriptionFrom(
  options: LocalOptions,
  settings: Settings,
  stateDir: string,
): Promise<SubscriptionRefresh | null> {
  // The URL holds the token (the password in effect): the variable keeps it out of `ps`.
  const text = options.sub ?? Deno.env.get("SWIFTPROXY_SUB");
  if (!text) return null;
  if (options.link ?? Deno.env.get("SWIFTPROXY_LINK")) {
    usageError("options '--link' and '--sub' both set the account: give one of them");
  }
  let url;
  try {
    url = parseSubscriptionUrl(text);
  } catch (error) {
    usageError(`option '--sub <url>': ${(error as Error).message}`);
  }
  let taken: TakenSubscription;
  try {
    taken = await takeSubscription(url, stateDir, options.handshakeTimeout);
  } catch (error) {
    console.error(`error: cannot take the subscription: ${(error as Error).message}`);
    Deno.exit(1);
  }
  applyLink(settings, taken.linkText, "--sub <url>");
  const rules = taken.rulesPath ? `, ${taken.ruleCount} rule(s) in ${taken.rulesPath}` : "";
  console.log(
    `swiftproxy-local: subscription taken: ${taken.link.user}@${taken.link.host}${rules}`,
  );
  return new SubscriptionRefresh(url, stateDir, taken, options.handshakeTimeout);
}

/**
 * The rules file a subscription brought (null: none): loaded exactly as `--rules FILE` (when
 * no `--rules` is given), and again after every refresh that rewrites it.
 */
export function subscriptionRulesFile(subscription: SubscriptionRefresh | null): string | null {
  return subscription?.last.rulesPath ?? null;
}

/** Fills remote, user, password, server name and pin from a `trojan://` link. */
function applyLink(settings: Settings, text: string, option = "--link <uri>"): void {
  let link;
  try {
    link = parseShareLink(text);
  } catch (error) {
    usageError(`option '${option}': ${(error as Error).message}`);
  }
  settings.remote = formatHostPort(link);
  settings.user = link.user;
  settings.password = link.password;
  settings.serverName = link.sni === link.host ? "" : link.sni;
  if (link.pin) {
    settings.pin = link.pin;
    settings.ca = "";
  } else delete settings.pin;
}

/** The {@linkcode LocalConfig} the command line gives. */
function configFrom(options: LocalOptions, rules: LocalRules | null): LocalConfig {
  return {
    ...(rules ? { rules } : {}),
    clientAuth: options.socksUser
      ? { username: options.socksUser, password: options.socksPass! }
      : undefined,
    handshakeTimeoutMs: options.handshakeTimeout,
    idleTimeoutMs: options.idleTimeout,
    maxHandshakes: options.maxHandshakes,
    preconnect: options.preconnect,
    mux: options.mux,
  };
}

async function start(options: LocalOptions, command: Command): Promise<void> {
  const settingsPath = options.config ?? defaultSettingsPath();
  const settings = await settingsFrom(options, command, settingsPath);
  const subscription = await subscriptionFrom(options, settings, dirname(settingsPath));
  const complete = Boolean(settings.remote && settings.user && settings.password);
  if (!options.ui) {
    if (!settings.remote) {
      usageError(
        "option '--remote <host:port>' is required (example: --remote vpn.example.org:8443)",
      );
    }
    if (!settings.user) usageError("option '--user <name>' is required");
    if (!settings.password) {
      usageError("a password is required: set SWIFTPROXY_PASSWORD (or --password)");
    }
  }
  // The variables keep these secrets out of `ps`, as SWIFTPROXY_PASSWORD does.
  options.socksPass ??= Deno.env.get("SWIFTPROXY_SOCKS_PASS");
  options.uiToken ??= Deno.env.get("SWIFTPROXY_UI_TOKEN") || undefined;
  if (Boolean(options.socksUser) !== (options.socksPass !== undefined)) {
    usageError("options '--socks-user' and '--socks-pass' go together");
  }
  const short = options.socksPass === undefined ? null : shortPassword(options.socksPass);
  if (short) {
    usageError(`option '--socks-pass <password>': ${short} (a long random one is better)`);
  }
  if (options.ca) {
    try {
      Deno.readTextFileSync(options.ca);
    } catch (error) {
      usageError(`option '--ca <file>': cannot read "${options.ca}": ${(error as Error).message}`);
    }
  }
  const rules = await rulesFrom(settings, subscription);
  await setupLogging(logOptions(options));
  const log = logger("local");
  // SIGHUP reads the rules again; a file refused then keeps those in force.
  if (rules) onSignal("SIGHUP", () => void rules.reload());
  // Listen for signals before saying anything, so a stop right after start is graceful too.
  const stopping = shutdownSignal();
  const control = new ProxyControl(settings, configFrom(options, rules), {
    settingsPath,
    refreshMs: options.ui ? undefined : 0,
  });

  // URL rule-providers: fetched through the tunnel once it is up; the proxy does not wait.
  const refresh = rules ? new ProviderRefresh(rules, () => control.proxyRoute) : null;
  refresh?.start();

  let dashboard: DashboardServer | null = null;
  if (options.ui) {
    const open = !isLoopbackHost(options.ui.host);
    const token = options.uiToken ?? (open ? generateToken() : undefined);
    try {
      dashboard = new DashboardServer({ listen: options.ui, control, token });
    } catch (error) {
      const why = error instanceof Deno.errors.AddrInUse
        ? "the port is in use"
        : (error as Error).message;
      if (!complete) {
        console.error(`error: cannot serve the dashboard on ${formatHostPort(options.ui)}: ${why}`);
        Deno.exit(1);
      }
      log.warn("dashboard not started on {address}: {why}", {
        address: formatHostPort(options.ui),
        why,
      });
    }
    if (dashboard) {
      // The token is shown once, only when generated here: it is the key to the dashboard.
      const link = token && !options.uiToken ? `${dashboard.url}?token=${token}` : dashboard.url;
      console.log(`swiftproxy-local: dashboard on ${link}`);
    }
  }

  if (complete) {
    try {
      await control.connect(settings, { check: false, save: false });
    } catch (error) {
      console.error(`error: ${(error as Error).message}`);
      Deno.exit(1);
    }
    // The listener is up: the remote may come up later. The check says once why it cannot
    // work; it comes before the "proxy on" line when it answers within a second (when all is
    // well, one round trip), so that line follows what the remote said.
    const watch = new AccountWatch(() => control.checkAccount(), {
      remote: settings.remote,
      user: settings.user,
      ca: settings.ca,
    });
    control.events.subscribe((end) => watch.observe(end));
    await watch.start(1_000);
    if (subscription) {
      // A changed link (a new password, another address) reconnects with it.
      subscription.changed = async (taken, before, rulesChanged) => {
        // The subscription's rules, unless --rules gave the user's own: loaded again, as on
        // SIGHUP (rules it no longer carries: none).
        if (rules && rulesChanged && !settings.rules) {
          await rules.reload({ file: taken.rulesPath ?? undefined });
        }
        if (taken.linkText === before.linkText) return;
        const next = { ...control.settings };
        applyLink(next, taken.linkText, "--sub <url>");
        await control.connect(next, { check: false, save: false }).catch((error) =>
          log.warn("subscription: cannot reconnect with the new link: {error}", {
            error: (error as Error).message,
          })
        );
      };
      subscription.start();
    }
    const bound = control.listenAddress!;
    const where = formatHostPort({ host: bound.hostname, port: bound.port });
    console.log(`swiftproxy-local: SOCKS5 and HTTP proxy on ${where}, remote ${settings.remote}`);
  } else {
    console.log("swiftproxy-local: no remote configured yet; fill in the form in the dashboard");
  }

  await stopping;
  refresh?.stop();
  subscription?.stop();
  await control.disconnect();
  await dashboard?.stop();
  await stopLogging();
  Deno.exit(0);
}

/**
 * The rules of `--rules` and `--direct-country` (or the settings file's `rules` and
 * `directCountry`), else those of `--sub`'s subscription, loaded; null without any (with a
 * subscription, rules it brings later are loaded then). A file that is refused stops the start
 * with its name, line and reason (exit 2).
 */
async function rulesFrom(
  settings: Settings,
  subscription: SubscriptionRefresh | null,
): Promise<LocalRules | null> {
  const file = settings.rules ?? subscriptionRulesFile(subscription) ?? undefined;
  if (!file && !settings.directCountry && !subscription) return null;
  const rules = new LocalRules({ file, directCountry: settings.directCountry });
  try {
    await rules.load();
  } catch (error) {
    if (!(error instanceof RulesError)) throw error;
    const option = !error.source
      ? "--direct-country <CC>"
      : settings.rules
      ? "--rules <file>"
      : "--sub <url>";
    usageError(`option '${option}': ${error.message}`);
  }
  return rules;
}

/** Builds the `swiftproxy-local` program. */
export function localProgram() {
  return addLogOptions(
    program(
      "swiftproxy-local",
      "SwiftProxy client: SOCKS5 and HTTP proxy on one port, tunnelled to a remote",
    )
      .option("--listen <host:port>", "proxy address (SOCKS5 and HTTP)", hostPortArg, {
        host: "127.0.0.1",
        port: 1080,
      })
      .option(
        "--remote <host:port>",
        "the swiftproxy-remote (or any Trojan server)",
        hostPortArgLike("vpn.example.org:8443"),
      )
      .option("--user <name>", "account name on the remote")
      .option(
        "--password <password>",
        "account password (better: the SWIFTPROXY_PASSWORD variable)",
      )
      .option("--ca <file>", "trust this CA or self-signed certificate (PEM) for the remote")
      .option("--server-name <name>", "name to check the remote's certificate against")
      .option(
        "--link <uri>",
        "a trojan:// link from the remote's admin: sets remote, user, password and the pinned " +
          "certificate (checked), instead of those options (better in SWIFTPROXY_LINK)",
      )
      .option(
        "--sub <url>",
        "a subscription URL from the remote's admin (https://HOST:PORT/sub/TOKEN#pcs=PIN): the " +
          "link, the admin's rules and refreshes in one step (better in SWIFTPROXY_SUB)",
      )
      .option(
        "--handshake-timeout <seconds>",
        "time allowed for a client or tunnel handshake",
        secondsArg,
        LOCAL_DEFAULTS.handshakeTimeoutMs,
      )
      .option(
        "--idle-timeout <seconds>",
        "close connections with no traffic either way for this long, 0 = never",
        secondsArg,
        LOCAL_DEFAULTS.idleTimeoutMs,
      )
      .option(
        "--max-handshakes <n>",
        "most clients in handshake at once (the oldest make room), 0 = no cap",
        integerArg(0, "1024"),
        LOCAL_DEFAULTS.maxHandshakes,
      )
      .option(
        "--preconnect <n>",
        "most TLS connections to the remote kept ready (each for one client; as many as recent bursts needed, at most 32), 0 = off",
        integerArg(0, "4"),
        LOCAL_DEFAULTS.preconnect,
      )
      .option(
        "--mux <n>",
        "carry connections as Mux.Cool sub-connections over up to n shared TLS tunnels " +
          "(a new connection costs no handshake; one slow or lossy tunnel holds up its others), 0 = off",
        integerArg(0, "2"),
        LOCAL_DEFAULTS.mux,
      )
      .option("--socks-user <name>", "require this login from SOCKS5/HTTP clients (LAN sharing)")
      .option(
        "--socks-pass <password>",
        "password for --socks-user, at least 8 characters (better: a long random one, " +
          "e.g. from `openssl rand -base64 18`, in the SWIFTPROXY_SOCKS_PASS variable)",
      )
      .option("--ui <host:port>", "dashboard address (a web page)", hostPortArg, {
        host: "127.0.0.1",
        port: 9090,
      })
      .option("--no-ui", "do not serve the dashboard")
      .option(
        "--ui-token <token>",
        "require this token for the dashboard (generated off loopback; or SWIFTPROXY_UI_TOKEN)",
      )
      .option("--config <file>", `settings file (default: ${defaultSettingsPath()})`)
      .option(
        "--rules <file>",
        "routing rules: mihomo's rules: and rule-providers: (YAML); each connection goes " +
          "PROXY (through the remote), DIRECT or REJECT; SIGHUP reloads (docs/RULES.md)",
      )
      .option(
        "--direct-country <CC>",
        "send private ranges and this country's addresses (GeoIP) direct, the rest through " +
          "the remote; after the rules of --rules",
      ),
  ).action(start);
}

/** Runs `swiftproxy-local` with `args`. */
export function main(args: string[]): Promise<void> {
  return run(localProgram(), args);
}
