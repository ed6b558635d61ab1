/**
 * The in-process test tier: the remote's `RemoteServer` inside the test process on an
 * in-memory users store, and the local's `LocalServer` beside it, their log collected like a
 * spawned program's output. The `user`
 * commands are the real CLI's, run in-process against that store. Tests of the CLI itself,
 * shipping and interop keep spawning processes (`_harness.ts`).
 */
import { RemoteServer } from "../lib/remote/tunnel/server.ts";
import { REMOTE_DEFAULTS } from "../lib/remote/tunnel/config.ts";
import type { RemoteConfig } from "../lib/remote/tunnel/config.ts";
import { openSqliteStore } from "../lib/remote/store/sqlite_store.ts";
import type { UserLimits, UserStore } from "../lib/remote/store/user_store.ts";
import { createCertificate } from "../lib/remote/store/certificate.ts";
import type { CertifiedKey } from "../lib/remote/store/certificate.ts";
import { userCommands } from "../lib/remote/cli/user.ts";
import { setupLogging, stopLogging } from "../lib/common/ops/logging.ts";
import { LocalServer } from "../lib/local/inbound/server.ts";
import { LOCAL_DEFAULTS } from "../lib/local/inbound/config.ts";
import type { LocalConfig } from "../lib/local/inbound/config.ts";
import { chainTo, delay, pairWith } from "./_harness.ts";
import { runInProcess } from "./_cli_in_process.ts";
import type { LocalFixture } from "./_harness.ts";

/** The log lines of an in-process server, read as a spawned `Program`'s output is. */
export class LogCapture {
  output = "";

  /** Waits until the output matches `pattern`, or throws after `ms`. */
  async waitFor(pattern: RegExp, ms = 15_000): Promise<RegExpMatchArray> {
    const deadline = Date.now() + ms;
    while (Date.now() < deadline) {
      const match = this.output.match(pattern);
      if (match) return match;
      await delay(20);
    }
    throw new Error(`no ${pattern} in the output:\n${this.output}`);
  }
}

let pair: Promise<CertifiedKey> | undefined;

/** One certificate for every in-process remote of a test file (a key pair takes a while). */
function certificate(): Promise<CertifiedKey> {
  return pair ??= createCertificate(["localhost", "127.0.0.1", "::1"]);
}

/** A store the `user` commands may "close" after each command without closing it. */
function unclosable(store: UserStore): UserStore {
  return new Proxy(store, {
    get(target, property) {
      if (property === "close") return () => Promise.resolve();
      const value = Reflect.get(target, property, target);
      return typeof value === "function" ? value.bind(target) : value;
    },
  });
}

/** A `RemoteServer` in this process on loopback, with `--allow-private` as the fixture has. */
export class InProcessRemote {
  /** Holds `tls/cert.pem` for clients, and a local's config file. */
  readonly dir: string;
  readonly store: UserStore;
  readonly server: RemoteServer;
  /** The server's log (level info, text lines). */
  readonly program: LogCapture;

  private constructor(dir: string, store: UserStore, server: RemoteServer, log: LogCapture) {
    this.dir = dir;
    this.store = store;
    this.server = server;
    this.program = log;
  }

  /**
   * Starts a server with `users` (name → password) on a new in-memory store; `config`
   * overrides the defaults of `serve`.
   */
  static async start(
    users: Record<string, string> = { alice: "alice-secret" },
    config: Partial<RemoteConfig> = {},
  ): Promise<InProcessRemote> {
    const log = new LogCapture();
    await setupLogging({ level: "info", format: "text", write: (line) => log.output += line });
    const dir = await Deno.makeTempDir({ prefix: "swiftproxy-test-" });
    const { cert, key } = await certificate();
    await Deno.mkdir(`${dir}/tls`);
    await Deno.writeTextFile(`${dir}/tls/cert.pem`, cert);
    const store = await openSqliteStore(":memory:");
    for (const [name, password] of Object.entries(users)) await store.add(name, password);
    const server = new RemoteServer({
      ...REMOTE_DEFAULTS,
      listen: { host: "127.0.0.1", port: 0 },
      policy: { ...REMOTE_DEFAULTS.policy, allowPrivate: true },
      cert,
      key,
      store,
      ...config,
    });
    await server.ready;
    return new InProcessRemote(dir, store, server, log);
  }

  /** Adds a user straight to the store. */
  addUser(name: string, password: string, limits: UserLimits = {}): Promise<unknown> {
    return this.store.add(name, password, limits);
  }

  /** Runs a `user …` subcommand in-process on this server's store; throws on failure. */
  user(...args: string[]): Promise<string> {
    return runInProcess(userCommands(() => Promise.resolve(unclosable(this.store))), args);
  }

  get port(): number {
    return this.server.addr.port;
  }

  get address(): string {
    return `127.0.0.1:${this.port}`;
  }

  get certPath(): string {
    return `${this.dir}/tls/cert.pem`;
  }

  /** Stops the server (writing its usage), closes the store and the log. */
  async stop(): Promise<void> {
    await this.server.stop();
    await this.store.close();
    await stopLogging();
    await Deno.remove(this.dir, { recursive: true }).catch(() => {});
  }
}

/** An in-process remote and a spawned local connected to it as alice. */
export async function startInProcessChain(
  config: Partial<RemoteConfig> = {},
  options: { users?: Record<string, string>; localArgs?: string[] } = {},
): Promise<{ remote: InProcessRemote; local: LocalFixture; stop(): Promise<void> }> {
  return chainTo(await InProcessRemote.start(options.users, config), options.localArgs);
}

/** A `LocalServer` in this process on a free loopback port, logged in to `remote`. */
export class InProcessLocal {
  readonly server: LocalServer;

  private constructor(server: LocalServer) {
    this.server = server;
  }

  /** Starts a local for `user` on `remote`; `config` overrides the defaults of the CLI. */
  static async start(
    remote: InProcessRemote,
    user = "alice",
    password = "alice-secret",
    config: Partial<LocalConfig> = {},
  ): Promise<InProcessLocal> {
    const server = new LocalServer({
      ...LOCAL_DEFAULTS,
      ...config,
      listen: { host: "127.0.0.1", port: 0 },
      endpoint: {
        remote: { host: "127.0.0.1", port: remote.port },
        user,
        password,
        caCerts: [await Deno.readTextFile(remote.certPath)],
        serverName: "localhost",
        timeoutMs: config.handshakeTimeoutMs ?? LOCAL_DEFAULTS.handshakeTimeoutMs,
        preconnect: config.preconnect ?? LOCAL_DEFAULTS.preconnect,
      },
    });
    return new InProcessLocal(server);
  }

  get port(): number {
    return this.server.addr.port;
  }

  get address(): string {
    return `127.0.0.1:${this.port}`;
  }

  stop(): Promise<void> {
    return this.server.stop();
  }
}

/** An in-process remote and an in-process local logged in to it as alice. */
export async function startInProcessPair(
  config: Partial<RemoteConfig> = {},
  options: { users?: Record<string, string>; local?: Partial<LocalConfig> } = {},
): Promise<{ remote: InProcessRemote; local: InProcessLocal; stop(): Promise<void> }> {
  return pairWith(
    await InProcessRemote.start(options.users, config),
    (remote) => InProcessLocal.start(remote, "alice", "alice-secret", options.local),
  );
}
