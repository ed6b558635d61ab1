/** The `swiftproxy-remote` command line: init, serve and user management. */
import { Command, InvalidArgumentError, Option } from "commander";
import {
  addLogOptions,
  hostPortArg,
  integerArg,
  logOptions,
  program,
  rateArg,
  run,
  secondsArg,
  sizeArg,
  usageError,
} from "../common/cli.ts";
import { onSignal, shutdownSignal } from "../common/signals.ts";
import { applyConfig, ConfigError, readConfigFile } from "./config_file.ts";
import { setupLogging, stopLogging } from "../common/logging.ts";
import { formatHostPort } from "../protocol/address.ts";
import type { Destination } from "../protocol/address.ts";
import { parseCidr } from "../common/cidr.ts";
import type { Cidr } from "../common/cidr.ts";
import { formatBytes } from "../common/units.ts";
import {
  dataPaths,
  defaultDataDir,
  ensureCertificate,
  openDatabase,
  openExistingDatabase,
} from "./data_dir.ts";
import { generatePassword } from "./password.ts";
import { CertificateError, RemoteServer } from "./server.ts";
import { checkUserName, UserError } from "./users_db.ts";
import type { User, UserLimits } from "./users_db.ts";

const cidrArg = (text: string, previous: Cidr[] = []): Cidr[] => {
  try {
    return [...previous, parseCidr(text)];
  } catch (error) {
    throw new InvalidArgumentError(`${(error as Error).message} (example: 10.0.0.0/8)`);
  }
};

/**
 * `--expires DATE`: an ISO date or date-time; `never` clears it. (Not `null` for never:
 * commander turns a parser's `null` into `true`.)
 */
const expiresArg = (text: string): number | "never" => {
  if (text === "never" || text === "0") return "never";
  const time = /^\d{4}-\d{2}-\d{2}([T ][\d:.]+(Z|[+-]\d{2}:?\d{2})?)?$/.test(text)
    ? Date.parse(text)
    : NaN;
  if (Number.isNaN(time)) {
    throw new InvalidArgumentError(
      `expected a date such as 2027-01-01 or 2027-01-01T12:00:00Z, or "never", got "${text}"`,
    );
  }
  return time;
};

const nameArg = (text: string): string => {
  try {
    checkUserName(text);
    return text;
  } catch (error) {
    throw new InvalidArgumentError((error as Error).message);
  }
};

function dataOption(): Option {
  return new Option("--data <dir>", "data directory (users.db, tls/)").default(
    defaultDataDir(),
    "$STATE_DIRECTORY or ./swiftproxy-data",
  );
}

function addLimitOptions(command: Command): Command {
  return command
    .option("--up <rate>", "upload limit in bytes/s, 0 = unlimited (512KiB, 2MiB, 10Mbit)", rateArg)
    .option("--down <rate>", "download limit in bytes/s, 0 = unlimited", rateArg)
    .option("--quota <size>", "total traffic allowed, 0 = unlimited (50GiB)", sizeArg)
    .option("--max-conns <n>", "open connections allowed, 0 = unlimited", integerArg(0, "16"))
    .option("--expires <date>", 'last day of access (2027-01-01), or "never"', expiresArg);
}

function limitsFrom(options: Record<string, unknown>): UserLimits {
  return {
    upLimit: options.up as number | undefined,
    downLimit: options.down as number | undefined,
    quota: options.quota as number | undefined,
    maxConns: options.maxConns as number | undefined,
    expiresAt: options.expires === "never" ? null : options.expires as number | undefined,
  };
}

/** Runs a user command against the database, turning refusals into a message and exit 1. */
function withDatabase(dir: string, work: (db: ReturnType<typeof openDatabase>) => void): void {
  let db;
  try {
    db = openExistingDatabase(dir);
    work(db);
  } catch (error) {
    const message = error instanceof UserError || error instanceof Error
      ? error.message
      : String(error);
    console.error(`error: ${message}`);
    Deno.exitCode = 1;
  } finally {
    db?.close();
  }
}

function describeLimit(bytes: number, suffix = ""): string {
  return bytes === 0 ? "unlimited" : `${formatBytes(bytes)}${suffix}`;
}

function userJson(u: User) {
  return {
    name: u.name,
    enabled: u.enabled,
    upLimit: u.upLimit,
    downLimit: u.downLimit,
    quota: u.quota,
    maxConns: u.maxConns,
    expiresAt: u.expiresAt === null ? null : new Date(u.expiresAt).toISOString(),
    bytesUp: u.bytesUp,
    bytesDown: u.bytesDown,
    openConns: u.openConns,
    createdAt: new Date(u.createdAt).toISOString(),
    updatedAt: new Date(u.updatedAt).toISOString(),
  };
}

function userTable(users: User[]): string {
  const rows = [[
    "NAME",
    "STATUS",
    "UP LIMIT",
    "DOWN LIMIT",
    "QUOTA",
    "USED UP",
    "USED DOWN",
    "CONNS",
    "MAX CONNS",
    "EXPIRES",
  ]];
  const now = Date.now();
  for (const u of users) {
    const status = !u.enabled
      ? "disabled"
      : u.expiresAt !== null && u.expiresAt <= now
      ? "expired"
      : u.quota > 0 && u.bytesUp + u.bytesDown >= u.quota
      ? "over quota"
      : "active";
    rows.push([
      u.name,
      status,
      describeLimit(u.upLimit, "/s"),
      describeLimit(u.downLimit, "/s"),
      describeLimit(u.quota),
      formatBytes(u.bytesUp),
      formatBytes(u.bytesDown),
      String(u.openConns),
      u.maxConns === 0 ? "unlimited" : String(u.maxConns),
      u.expiresAt === null ? "never" : new Date(u.expiresAt).toISOString().slice(0, 10),
    ]);
  }
  const widths = rows[0].map((_, i) => Math.max(...rows.map((r) => r[i].length)));
  return rows.map((r) => r.map((cell, i) => cell.padEnd(widths[i])).join("  ").trimEnd()).join(
    "\n",
  );
}

function userCommands(): Command {
  const user = new Command("user").description("manage users (works while serve runs)");

  addLimitOptions(
    user.command("add").description("add a user; prints a generated password if none is given")
      .argument("<name>", "user name", nameArg)
      .addOption(dataOption())
      .option("--password <password>", "the password (generated when left out)"),
  ).action((name: string, options) => {
    withDatabase(options.data, (db) => {
      const password = options.password ?? generatePassword();
      db.add(name, password, limitsFrom(options));
      console.log(`added user ${name}`);
      if (!options.password) {
        console.log(`password (shown once): ${password}`);
        console.log(`trojan clients use the password: ${name}:${password}`);
      }
    });
  });

  addLimitOptions(
    user.command("set").description("change a user's limits")
      .argument("<name>", "user name", nameArg)
      .addOption(dataOption()),
  ).action((name: string, options) => {
    const limits = limitsFrom(options);
    if (Object.values(limits).every((v) => v === undefined)) {
      console.error(
        "error: nothing to change; give --up, --down, --quota, --max-conns or --expires",
      );
      Deno.exit(2);
    }
    withDatabase(options.data, (db) => {
      db.setLimits(name, limits);
      console.log(`updated user ${name}`);
    });
  });

  user.command("passwd").description("set a new password (generated when left out)")
    .argument("<name>", "user name", nameArg)
    .addOption(dataOption())
    .option("--password <password>", "the new password")
    .action((name: string, options) => {
      withDatabase(options.data, (db) => {
        const password = options.password ?? generatePassword();
        db.setPassword(name, password);
        console.log(`changed the password of ${name}; open connections are closed`);
        if (!options.password) console.log(`password (shown once): ${password}`);
      });
    });

  const simple: [string, string, (db: ReturnType<typeof openDatabase>, name: string) => void][] = [
    ["enable", "let a user connect again", (db, name) => db.setEnabled(name, true)],
    [
      "disable",
      "refuse a user and close their connections",
      (db, name) => db.setEnabled(name, false),
    ],
    ["remove", "delete a user and close their connections", (db, name) => db.remove(name)],
    ["reset-usage", "set a user's usage back to zero", (db, name) => db.resetUsage(name)],
  ];
  for (const [verb, description, change] of simple) {
    user.command(verb).description(description)
      .argument("<name>", "user name", nameArg)
      .addOption(dataOption())
      .action((name: string, options) => {
        withDatabase(options.data, (db) => {
          change(db, name);
          console.log(`${verb}: ${name}`);
        });
      });
  }

  user.command("list").description("users with their limits and usage")
    .addOption(dataOption())
    .option("--json", "print JSON instead of a table", false)
    .action((options) => {
      withDatabase(options.data, (db) => {
        const users = db.list();
        console.log(options.json ? JSON.stringify(users.map(userJson), null, 2) : userTable(users));
      });
    });
  return user;
}

/** Options of `serve` after parsing. */
interface ServeOptions {
  data: string;
  listen: Destination;
  cert?: string;
  key?: string;
  allowPrivate: boolean;
  allow: Cidr[];
  deny: Cidr[];
  fallback?: Destination;
  maxConns: number;
  handshakeTimeout: number;
  idleTimeout: number;
  maxHandshakes: number;
  authLimit: number;
  authCoolOff: number;
  grace: number;
}

async function serve(options: ServeOptions & Record<string, unknown>): Promise<void> {
  if (Boolean(options.cert) !== Boolean(options.key)) {
    console.error("error: --cert and --key go together; give both or neither");
    Deno.exit(2);
  }
  await setupLogging(logOptions(options));
  const db = openDatabase(options.data);
  let certPath = options.cert;
  if (!certPath) {
    const made = await ensureCertificate(options.data);
    certPath = made.path;
    if (made.created) console.log(`created a self-signed certificate`);
  }
  const paths = options.cert ? { cert: options.cert, key: options.key! } : dataPaths(options.data);
  const cert = Deno.readTextFileSync(paths.cert);
  const key = Deno.readTextFileSync(paths.key);
  const { fingerprint } = await import("./certificate.ts");
  let server: RemoteServer;
  try {
    server = new RemoteServer({
      listen: options.listen,
      cert,
      key,
      db,
      policy: { allowPrivate: options.allowPrivate, allow: options.allow, deny: options.deny },
      fallback: options.fallback,
      maxConns: options.maxConns,
      handshakeTimeoutMs: options.handshakeTimeout,
      idleTimeoutMs: options.idleTimeout,
      maxHandshakes: options.maxHandshakes,
      authGuard: { limit: options.authLimit, coolOffMs: options.authCoolOff },
    });
    await server.ready;
  } catch (error) {
    const where = formatHostPort(options.listen);
    const why = error instanceof Deno.errors.AddrInUse
      ? "the address is already in use"
      : (error as Error).message;
    console.error(`error: cannot listen on ${where}: ${why}`);
    db.close();
    Deno.exit(1);
  }
  // Listen for signals before saying "listening", so a stop right after start is graceful too.
  const stopping = shutdownSignal();
  // SIGHUP (systemctl reload, a certbot deploy hook): re-read the pair, one reload at a time.
  let reloading = Promise.resolve();
  onSignal("SIGHUP", () => {
    reloading = reloading.then(() => reloadCertificate(server, paths, fingerprint));
  });
  console.log(
    `swiftproxy-remote listening on ${
      formatHostPort({ host: server.addr.hostname, port: server.addr.port })
    }`,
  );
  console.log(`certificate: ${certPath}`);
  console.log(`certificate SHA-256: ${await fingerprint(cert)}`);
  await stopping;
  console.log(`stopping: no new connections; open ones get ${options.grace / 1000} s`);
  await reloading;
  await server.stop(options.grace);
  db.close();
  await stopLogging();
  Deno.exit(0);
}

async function reloadCertificate(
  server: RemoteServer,
  paths: { cert: string; key: string },
  fingerprint: (pem: string) => Promise<string>,
): Promise<void> {
  let cert: string;
  try {
    // Unreadable files (a renewal half done, a wrong owner) or a bad pair: keep serving.
    cert = Deno.readTextFileSync(paths.cert);
    server.reloadCertificate(cert, Deno.readTextFileSync(paths.key));
  } catch (error) {
    if (
      !(error instanceof CertificateError || error instanceof Deno.errors.NotFound ||
        error instanceof Deno.errors.PermissionDenied)
    ) throw error;
    console.error(`reload failed, keeping the current certificate: ${error.message}`);
    return;
  }
  console.log(`reloaded the certificate: ${paths.cert}`);
  console.log(`certificate SHA-256: ${await fingerprint(cert)}`);
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

/** Builds the `swiftproxy-remote` program. */
export function remoteProgram(): Command {
  const remote = program(
    "swiftproxy-remote",
    "SwiftProxy server: TLS, Trojan-compatible tunnels, per-user limits and accounting",
  );

  remote.command("init").description("create the data directory, users.db and a TLS certificate")
    .addOption(dataOption())
    .option(
      "--san <names>",
      "extra certificate names, comma-separated (the server's public name or IP)",
      (t: string) => t.split(",").map((s) => s.trim()).filter(Boolean),
      [],
    )
    .action(async (options) => {
      openDatabase(options.data).close();
      const cert = await ensureCertificate(options.data, options.san);
      console.log(`data directory: ${options.data}`);
      console.log(`users database: ${dataPaths(options.data).db}`);
      console.log(`certificate${cert.created ? " (new)" : ""}: ${cert.path}`);
      console.log(`certificate SHA-256: ${cert.fingerprint}`);
    });

  addLogOptions(
    remote.command("serve").description("run the server")
      .addOption(dataOption())
      .option("--listen <host:port>", "address to listen on", hostPortArg, {
        host: "0.0.0.0",
        port: 8443,
      })
      .option("--cert <file>", "TLS certificate chain (PEM) instead of the generated one")
      .option("--key <file>", "TLS private key (PEM) for --cert")
      .option("--allow-private", "allow loopback and private destinations", false)
      .option("--allow <cidr>", "always allow destinations in this range (repeatable)", cidrArg, [])
      .option("--deny <cidr>", "always refuse destinations in this range (repeatable)", cidrArg, [])
      .option(
        "--fallback <host:port>",
        "relay non-tunnel connections to this web server",
        hostPortArg,
      )
      .option(
        "--max-conns <n>",
        "most connections open at once, 0 = unlimited",
        integerArg(0, "4096"),
        0,
      )
      .option(
        "--handshake-timeout <seconds>",
        "time allowed for TLS + tunnel header",
        secondsArg,
        10_000,
      )
      .option(
        "--idle-timeout <seconds>",
        "close tunnels with no traffic either way for this long, 0 = never",
        secondsArg,
        300_000,
      )
      .option(
        "--max-handshakes <n>",
        "most connections in handshake at once (the oldest make room), 0 = no cap",
        integerArg(0, "1024"),
        1024,
      )
      .option(
        "--auth-limit <n>",
        "failed logins per minute from one address before it cools off, 0 = no limit",
        integerArg(0, "20"),
        20,
      )
      .option(
        "--auth-cool-off <seconds>",
        "how long an address past --auth-limit is refused",
        secondsArg,
        600_000,
      )
      .option(
        "--grace <seconds>",
        "on SIGTERM, time open connections get to finish",
        secondsArg,
        10_000,
      ),
  ).option("--config <file>", "read these options from a JSON or TOML file; flags win")
    .action((_options, command: Command) => serve(withConfigFile(command)));

  remote.addCommand(userCommands());
  return remote;
}

/** Runs `swiftproxy-remote` with `args`. */
export function main(args: string[]): Promise<void> {
  return run(remoteProgram(), args);
}
