/** `swiftproxy-remote serve`: options (flags and `--config`), start, SIGHUP reload, shutdown. */
import { Command, InvalidArgumentError } from "commander";
import {
  addLogOptions,
  hostPortArgLike,
  integerArg,
  logOptions,
  parser,
  secondsArg,
  usageError,
} from "../../common/ops/cli.ts";
import { onSignal, shutdownSignal } from "../../common/ops/signals.ts";
import { setupLogging, stopLogging } from "../../common/ops/logging.ts";
import { parseCidr } from "../../common/security/cidr.ts";
import type { Cidr } from "../../common/security/cidr.ts";
import { formatHostPort } from "../../protocol/address.ts";
import type { Destination } from "../../protocol/address.ts";
import { applyConfig, ConfigError, readConfigFile } from "../ops/config_file.ts";
import { DataDirError, ensureCertificate, isDataDir } from "../store/data_dir.ts";
import { NothingToServe, openServeStore } from "../serve/serve_store.ts";
import type { ServeStore } from "../serve/serve_store.ts";
import { checkNodeName, NodeNameTaken } from "../nodes/nodes.ts";
import { CertificateError, fingerprint } from "../store/certificate.ts";
import { REMOTE_DEFAULTS } from "../tunnel/config.ts";
import type { RemoteConfig } from "../tunnel/config.ts";
import { RemoteServer } from "../tunnel/server.ts";
import { startHousekeeping } from "../serve/housekeeping.ts";
import type { AdminServer } from "../admin/server.ts";
import { isLoopbackHost } from "../../common/security/loopback.ts";
import type { Housekeeping } from "../serve/housekeeping.ts";
import { dataOption } from "./options.ts";
import { acmeOptionsProblem, addAcmeOptions, servingPaths, startAcme } from "./serve_acme.ts";
import type { AcmeServeOptions } from "./serve_acme.ts";
import { BLOCK_FORMATS, serverBlockArg } from "./block_option.ts";
import type { BlockList } from "../../rules/block_list.ts";
import { type ClientRules, loadClientRules } from "../../rules/client_rules.ts";
import { RulesError } from "../../rules/rule.ts";
import { clientRulesGaps } from "../share/subscription_rules.ts";
import { ClientRulesSetting } from "../share/client_rules_setting.ts";
import { publicArg } from "./init.ts";
import { certificateFacts } from "../share/share.ts";
import { LinkVault } from "../share/link_vault.ts";
import {
  describePublicAddress,
  guessPublicAddress,
  readPublicAddress,
  writePublicAddress,
} from "../share/public_address.ts";
import type { PublicAddress } from "../share/public_address.ts";
import { resolve } from "node:path";

/** On SIGTERM, how long open connections get to finish by default. */
const GRACE_MS = 10_000;

const cidrArg = (text: string, previous: Cidr[] = []): Cidr[] => {
  try {
    return [...previous, parseCidr(text)];
  } catch (error) {
    throw new InvalidArgumentError(`${(error as Error).message} (example: 10.0.0.0/8)`);
  }
};

const urlArg = (text: string): string => {
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    throw new InvalidArgumentError(
      `expected a URL such as https://hooks.example.org/x, got "${text}"`,
    );
  }
  if (url.protocol !== "https:" && url.protocol !== "http:") {
    throw new InvalidArgumentError(`expected an http:// or https:// URL, got "${text}"`);
  }
  return text;
};

/** `--client-rules FILE`: the file and its providers' files, read and checked now. */
const clientRulesArg = (path: string): { path: string; rules: ClientRules } => {
  try {
    return { path, rules: loadClientRules(path) };
  } catch (error) {
    if (error instanceof RulesError) throw new InvalidArgumentError(error.message);
    throw error;
  }
};

/** Options of `serve` after parsing (defaults filled in). */
interface ServeOptions extends AcmeServeOptions {
  data: string;
  init: boolean;
  public?: Destination;
  db?: string;
  node?: string;
  listen: Destination;
  cert?: string;
  key?: string;
  allowPrivate: boolean;
  allow: Cidr[];
  deny: Cidr[];
  block?: BlockList;
  blockBittorrent: boolean;
  fallback?: Destination;
  maxConns: number;
  userMaxConns: number;
  handshakeTimeout: number;
  idleTimeout: number;
  udpTimeout: number;
  maxHandshakes: number;
  authLimit: number;
  authCoolOff: number;
  grace: number;
  admin?: Destination;
  notifyUrl?: string;
  metricsToken?: string;
  name?: string;
  subUpdateHours: number;
  supportUrl?: string;
  clientRules?: { path: string; rules: ClientRules };
}

/** The server's config: {@linkcode REMOTE_DEFAULTS}, then what the options say. */
function remoteConfig(
  options: ServeOptions,
  pair: { cert: string; key: string },
  { store, outbox }: Pick<ServeStore, "store" | "outbox">,
  clientRules: ClientRulesSetting,
): RemoteConfig {
  return {
    ...REMOTE_DEFAULTS,
    ...pair,
    store,
    outbox,
    linkVault: new LinkVault(options.data),
    listen: options.listen,
    policy: { allowPrivate: options.allowPrivate, allow: options.allow, deny: options.deny },
    block: options.block,
    blockBittorrent: options.blockBittorrent,
    fallback: options.fallback,
    maxConns: options.maxConns,
    userMaxConns: options.userMaxConns,
    handshakeTimeoutMs: options.handshakeTimeout,
    idleTimeoutMs: options.idleTimeout,
    udpTimeoutMs: options.udpTimeout,
    maxHandshakes: options.maxHandshakes,
    authGuard: { limit: options.authLimit, coolOffMs: options.authCoolOff },
    subscriptions: {
      updateHours: options.subUpdateHours,
      name: options.name,
      supportUrl: options.supportUrl,
    },
    clientRules,
  };
}

async function serve(options: ServeOptions & Record<string, unknown>): Promise<void> {
  if (Boolean(options.cert) !== Boolean(options.key)) {
    console.error("error: --cert and --key go together; give both or neither");
    Deno.exit(2);
  }
  const acmeProblem = acmeOptionsProblem(options);
  if (acmeProblem) {
    console.error(`error: ${acmeProblem}`);
    Deno.exit(2);
  }
  if (!options.init && !isDataDir(options.data)) {
    console.error(
      `error: ${resolve(options.data)} is not a data directory made by init (no users.db, no ` +
        `tls/cert.pem); check --data, or make it: swiftproxy-remote init --data ${options.data} ` +
        "(or serve --init)",
    );
    Deno.exit(1);
  }
  await setupLogging(logOptions(options));
  let opened: ServeStore;
  let certPath = options.cert;
  try {
    opened = await openServeStore(options, options.node);
    if (!certPath) {
      const made = await ensureCertificate(options.data);
      certPath = made.path;
      if (made.created) console.log(`created a self-signed certificate`);
    }
  } catch (error) {
    if (!(error instanceof DataDirError || error instanceof NothingToServe)) throw error;
    console.error(`error: ${error.message}`);
    Deno.exit(1);
  }
  const paths = servingPaths(options);
  const cert = Deno.readTextFileSync(paths.cert);
  const key = Deno.readTextFileSync(paths.key);
  let clientRules: ClientRulesSetting;
  try {
    clientRules = ClientRulesSetting.open(options.data, options.clientRules);
  } catch (error) {
    if (!(error instanceof RulesError)) throw error;
    console.error(`error: the panel's client rules: ${error.message}`);
    await opened.close();
    Deno.exit(1);
  }
  let server: RemoteServer;
  try {
    server = new RemoteServer(remoteConfig(options, { cert, key }, opened, clientRules));
    await server.ready;
  } catch (error) {
    const where = formatHostPort(options.listen);
    const why = error instanceof Deno.errors.AddrInUse
      ? "the address is already in use"
      : (error as Error).message;
    const listening = error instanceof Deno.errors.AddrInUse ||
      error instanceof Deno.errors.AddrNotAvailable ||
      error instanceof Deno.errors.PermissionDenied;
    console.error(listening ? `error: cannot listen on ${where}: ${why}` : `error: ${why}`);
    await opened.close();
    Deno.exit(1);
  }
  try {
    await opened.join(server);
  } catch (error) {
    if (!(error instanceof NodeNameTaken)) throw error;
    console.error(`error: ${error.message}`);
    await server.stop();
    await opened.close();
    Deno.exit(1);
  }
  const address = publicAddress(options, server, cert);
  server.publicAddress = address;
  const { store } = opened;
  let side: Housekeeping;
  try {
    side = startHousekeeping(server, store, {
      admin: options.admin,
      // Plain HTTP on loopback (reached over ssh -L); anywhere else HTTPS with the tunnel's pair.
      tls: options.admin && !isLoopbackHost(options.admin.host) ? { cert, key } : undefined,
      notifyUrl: options.notifyUrl,
      metricsToken: options.metricsToken ?? Deno.env.get("SWIFTPROXY_METRICS_TOKEN"),
    });
  } catch (error) {
    const why = error instanceof Deno.errors.AddrInUse
      ? "the address is already in use"
      : (error as Error).message;
    console.error(`error: cannot start the admin panel: ${why}`);
    await server.stop();
    await opened.close();
    Deno.exit(1);
  }
  // Listen for signals before saying "listening", so a stop right after start is graceful too.
  const stopping = shutdownSignal();
  // SIGHUP (systemctl reload, a certbot deploy hook): re-read the pair, one reload at a time.
  let reloading = Promise.resolve();
  onSignal("SIGHUP", () => {
    reloading = reloading.then(() => reloadCertificate(server, servingPaths(options), side.admin));
  });
  let acme;
  try {
    acme = await startAcme(options, () => {
      return reloading = reloading.then(() =>
        reloadCertificate(server, servingPaths(options), side.admin)
      );
    });
  } catch (error) {
    console.error(`error: cannot start --acme: ${(error as Error).message}`);
    await side.stop();
    await server.stop();
    await opened.close();
    Deno.exit(1);
  }
  const most = (n: number) => n === 0 ? "unlimited" : String(n);
  console.log(
    `swiftproxy-remote listening on ${
      formatHostPort({ host: server.addr.hostname, port: server.addr.port })
    } (connections: ${most(options.maxConns)} in all, ${
      most(options.userMaxConns)
    } per user without a max-conns of its own)`,
  );
  if (opened.node) console.log(`node ${opened.node} on the shared users database`);
  if (clientRules.rules) {
    const { rules, providers } = clientRules.rules;
    const from = clientRules.flagPath ?? "the panel";
    console.log(
      `client rules (${from}): ${rules.length} rules, ${providers.length} rule-providers, in every subscription`,
    );
    for (const gap of clientRulesGaps(clientRules.rules)) console.log(`client rules: ${gap}`);
  }
  if (address) console.log(describePublicAddress(address, "swiftproxy-remote serve --public"));
  console.log(`certificate: ${certPath}`);
  console.log(`certificate SHA-256: ${fingerprint(cert)}`);
  if (side.admin) {
    console.log(`admin panel on ${side.admin.url}`);
    // A shared database down at start (serving from the cache) is no reason to say there is none.
    if (await store.adminPasswordHash().catch(() => "unknown") === undefined) {
      console.log('no admin account yet: run "swiftproxy-remote admin passwd" to make one');
    }
  }
  await stopping;
  // A second signal ends the grace at once; usage is still written before the exit.
  const hurry = new AbortController();
  shutdownSignal().then(() => {
    console.log("closing open tunnels now");
    hurry.abort();
  });
  // Stops accepting before it says so (a client told "stopping" must find the port closed).
  const serverStopped = server.stop(options.grace, hurry.signal);
  console.log(
    `stopping: no new connections; open ones get ${options.grace / 1000} s ` +
      "(Ctrl-C again to close them now)",
  );
  await acme?.stop();
  await reloading;
  await side.stop();
  await serverStopped;
  await opened.close();
  await stopLogging();
  Deno.exit(0);
}

/**
 * Where links point: `--public` (kept for later commands), else the one kept in the data
 * directory by `init --public`, else a guess from the listen address and the certificate,
 * kept as a guess (so `user add` on this machine prints the same).
 */
function publicAddress(
  options: ServeOptions,
  server: RemoteServer,
  cert: string,
): PublicAddress | undefined {
  const kept = readPublicAddress(options.data);
  let address: PublicAddress | undefined;
  if (options.public) address = { ...options.public, guessed: false };
  else if (kept && !kept.guessed) return kept;
  else {
    const listen = { host: options.listen.host, port: server.addr.port };
    // With --acme the certificate will name those domains, whatever serves until it comes.
    const acme = options.acme?.[0];
    address = acme
      ? { host: acme, port: listen.port, guessed: true }
      : guessPublicAddress(listen, certificateFacts(cert).names);
  }
  if (!address) return undefined;
  if (
    kept?.host !== address.host || kept.port !== address.port || kept.guessed !== address.guessed
  ) {
    try {
      writePublicAddress(options.data, address);
    } catch (error) {
      console.error(
        `cannot keep the public address in ${options.data}: ${(error as Error).message}`,
      );
    }
  }
  return address;
}

function reloadCertificate(
  server: RemoteServer,
  paths: { cert: string; key: string },
  admin?: AdminServer,
): void {
  let cert: string;
  let panel = false;
  try {
    // Unreadable files (a renewal half done, a wrong owner) or a bad pair: keep serving.
    cert = Deno.readTextFileSync(paths.cert);
    const key = Deno.readTextFileSync(paths.key);
    server.reloadCertificate(cert, key);
    // The tunnel checked the pair; the panel off loopback serves the same one.
    panel = admin?.reloadCertificate(cert, key) ?? false;
  } catch (error) {
    if (
      !(error instanceof CertificateError || error instanceof Deno.errors.NotFound ||
        error instanceof Deno.errors.PermissionDenied)
    ) throw error;
    console.error(`reload failed, keeping the current certificate: ${error.message}`);
    return;
  }
  console.log(`reloaded the certificate: ${paths.cert}${panel ? " (the admin panel's too)" : ""}`);
  console.log(`certificate SHA-256: ${fingerprint(cert)}`);
}

/** Applies `--config` to the parsed `serve` options; flags given on the command line win. */
function withConfigFile(command: Command): ServeOptions & Record<string, unknown> {
  const path = command.opts().config as string | undefined;
  if (path) {
    try {
      applyConfig(command, readConfigFile(path), path);
    } catch (error) {
      if (error instanceof ConfigError) usageError(error.message);
      throw error;
    }
  }
  return command.opts() as ServeOptions & Record<string, unknown>;
}

/** The `serve` subcommand; its defaults are {@linkcode REMOTE_DEFAULTS}. */
export function serveCommand(): Command {
  const d = REMOTE_DEFAULTS;
  return addLogOptions(addAcmeOptions(
    new Command("serve").description("run the server")
      .addOption(dataOption())
      .option("--init", "make the data directory first when init has not (else refused)", false)
      .option(
        "--public <host:port>",
        "where clients reach the server, for links and subscriptions (kept; default: as init " +
          "--public set, else a guess from --listen and the certificate)",
        publicArg,
      )
      .option(
        "--node <name>",
        "this node's name among nodes sharing a --db (default: host name)",
        parser(checkNodeName, "eu-1"),
      )
      .option("--listen <host:port>", "address to listen on", hostPortArgLike("0.0.0.0:8443"), {
        ...d.listen,
      })
      .option("--cert <file>", "TLS certificate chain (PEM) instead of the generated one")
      .option("--key <file>", "TLS private key (PEM) for --cert")
      .option("--allow-private", "allow loopback and private destinations", d.policy.allowPrivate)
      .option("--allow <cidr>", "always allow destinations in this range (repeatable)", cidrArg, [])
      .option("--deny <cidr>", "always refuse destinations in this range (repeatable)", cidrArg, [])
      .option(
        "--block <file>",
        `refuse these destinations for every user: ${BLOCK_FORMATS}`,
        serverBlockArg,
      )
      .option(
        "--block-bittorrent",
        "refuse BitTorrent (peer handshakes, DHT, UDP trackers, uTP) by its first bytes",
        d.blockBittorrent,
      )
      .option(
        "--fallback <host:port>",
        "relay non-tunnel connections to this web server",
        hostPortArgLike("127.0.0.1:80"),
      )
      .option(
        "--max-conns <n>",
        "most connections open at once, 0 = unlimited",
        integerArg(0, "4096"),
        d.maxConns,
      )
      .option(
        "--user-max-conns <n>",
        "most connections per user without a max-conns of its own, 0 = unlimited",
        integerArg(0, "256"),
        d.userMaxConns,
      )
      .option(
        "--handshake-timeout <seconds>",
        "time allowed for TLS + tunnel header",
        secondsArg,
        d.handshakeTimeoutMs,
      )
      .option(
        "--idle-timeout <seconds>",
        "close tunnels with no traffic either way for this long, 0 = never",
        secondsArg,
        d.idleTimeoutMs,
      )
      .option(
        "--udp-timeout <seconds>",
        "close UDP associations with no datagram either way for this long, 0 = never",
        secondsArg,
        d.udpTimeoutMs,
      )
      .option(
        "--max-handshakes <n>",
        "most connections in handshake at once (the oldest make room), 0 = no cap",
        integerArg(0, "1024"),
        d.maxHandshakes,
      )
      .option(
        "--auth-limit <n>",
        "failed logins per minute from one address before it cools off, 0 = no limit",
        integerArg(0, "20"),
        d.authGuard.limit,
      )
      .option(
        "--auth-cool-off <seconds>",
        "how long an address past --auth-limit is refused",
        secondsArg,
        d.authGuard.coolOffMs,
      )
      .option(
        "--admin <host:port>",
        "serve the admin panel, its API and /metrics here (loopback; elsewhere over TLS)",
        hostPortArgLike("127.0.0.1:9091"),
      )
      .option(
        "--notify-url <url>",
        "post alerts (quota 80%/100%, expiry) to this URL as JSON",
        urlArg,
      )
      .option(
        "--metrics-token <token>",
        "bearer token for /metrics off loopback (or $SWIFTPROXY_METRICS_TOKEN)",
      )
      .option("--name <name>", "the server's name in users' apps (default: the public host)")
      .option(
        "--sub-update-hours <n>",
        "how often apps fetch a subscription again, in hours",
        integerArg(1, "12"),
        d.subscriptions.updateHours,
      )
      .option("--support-url <url>", "where users get help, shown by their apps", urlArg)
      .option(
        "--client-rules <file>",
        "rules (mihomo rules: and rule-providers:) every subscription carries to users' apps",
        clientRulesArg,
      )
      .option(
        "--grace <seconds>",
        "on SIGTERM, time open connections get to finish",
        secondsArg,
        GRACE_MS,
      ),
  )).option("--config <file>", "read these options from a JSON or TOML file; flags win")
    .action((_options, command: Command) => serve(withConfigFile(command)));
}
