/** The `swiftproxy-local` command line. */
import {
  addLogOptions,
  hostPortArg,
  logOptions,
  program,
  run,
  secondsArg,
  usageError,
} from "../common/cli.ts";
import { logger, setupLogging, stopLogging } from "../common/logging.ts";
import { formatHostPort } from "../protocol/address.ts";
import type { Destination } from "../protocol/address.ts";
import { ipBytes, inCidr, parseCidr } from "../common/cidr.ts";
import { LocalServer } from "./server.ts";

interface LocalOptions {
  listen: Destination;
  remote?: Destination;
  user?: string;
  password?: string;
  ca?: string;
  serverName?: string;
  handshakeTimeout: number;
  socksUser?: string;
  socksPass?: string;
}

const LOOPBACK = [parseCidr("127.0.0.0/8"), parseCidr("::1/128")];

function isLoopback(host: string): boolean {
  if (host === "localhost") return true;
  const bytes = ipBytes(host);
  return bytes !== null && LOOPBACK.some((range) => inCidr(bytes, range));
}

async function start(options: LocalOptions & Record<string, unknown>): Promise<void> {
  const password = options.password ?? Deno.env.get("SWIFTPROXY_PASSWORD");
  if (!options.remote) usageError("option '--remote <host:port>' is required (example: --remote vpn.example.org:8443)");
  if (!options.user) usageError("option '--user <name>' is required");
  if (!password) usageError("a password is required: set SWIFTPROXY_PASSWORD (or --password)");
  if (Boolean(options.socksUser) !== Boolean(options.socksPass)) {
    usageError("options '--socks-user' and '--socks-pass' go together");
  }
  let ca: string | undefined;
  if (options.ca) {
    try {
      ca = Deno.readTextFileSync(options.ca);
    } catch (error) {
      usageError(`option '--ca <file>': cannot read "${options.ca}": ${(error as Error).message}`);
    }
  }
  await setupLogging(logOptions(options));
  const log = logger("local");
  let server: LocalServer;
  try {
    server = new LocalServer({
      listen: options.listen,
      endpoint: {
        remote: options.remote,
        user: options.user,
        password,
        caCerts: ca ? [ca] : undefined,
        serverName: options.serverName,
        timeoutMs: options.handshakeTimeout,
      },
      clientAuth: options.socksUser ? { username: options.socksUser, password: options.socksPass! } : undefined,
      handshakeTimeoutMs: options.handshakeTimeout,
    });
  } catch (error) {
    console.error(`error: cannot listen on ${formatHostPort(options.listen)}: ${(error as Error).message}`);
    Deno.exit(1);
  }
  const where = formatHostPort({ host: server.addr.hostname, port: server.addr.port });
  console.log(`swiftproxy-local: SOCKS5 and HTTP proxy on ${where}, remote ${formatHostPort(options.remote)}`);
  if (!isLoopback(options.listen.host) && !options.socksUser) {
    log.warn(
      "listening on {address} without --socks-user: anyone who can reach it can use your account (an open proxy)",
      { address: where },
    );
  }
  await new Promise<void>((resolve) => {
    Deno.addSignalListener("SIGINT", resolve);
    Deno.addSignalListener("SIGTERM", resolve);
  });
  await server.stop();
  await stopLogging();
  Deno.exit(0);
}

/** Builds the `swiftproxy-local` program. */
export function localProgram() {
  return addLogOptions(
    program("swiftproxy-local", "SwiftProxy client: SOCKS5 and HTTP proxy on one port, tunnelled to a remote")
      .option("--listen <host:port>", "proxy address (SOCKS5 and HTTP)", hostPortArg, {
        host: "127.0.0.1",
        port: 1080,
      })
      .option("--remote <host:port>", "the swiftproxy-remote (or any Trojan server)", hostPortArg)
      .option("--user <name>", "account name on the remote")
      .option("--password <password>", "account password (better: the SWIFTPROXY_PASSWORD variable)")
      .option("--ca <file>", "trust this CA or self-signed certificate (PEM) for the remote")
      .option("--server-name <name>", "name to check the remote's certificate against")
      .option("--handshake-timeout <seconds>", "time allowed for a client or tunnel handshake", secondsArg, 10_000)
      .option("--socks-user <name>", "require this login from SOCKS5/HTTP clients (LAN sharing)")
      .option("--socks-pass <password>", "password for --socks-user"),
  ).action(start);
}

/** Runs `swiftproxy-local` with `args`. */
export function main(args: string[]): Promise<void> {
  return run(localProgram(), args);
}
