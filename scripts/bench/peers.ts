/**
 * Starting each contender on loopback: SwiftProxy (the real `remote.ts` + `local.ts`), Debian's
 * `trojan` (client + server), `shadowsocks-libev` and `microsocks`. Each exposes a SOCKS5 port.
 */
import { fileURLToPath } from "node:url";

const ROOT = fileURLToPath(new URL("../../", import.meta.url));
const DENO = Deno.execPath();
const PASSWORD = "bench-password-1234";

/** A running contender. */
export interface Contender {
  name: string;
  /** SOCKS5 port on 127.0.0.1; absent for the direct row. */
  socksPort?: number;
  /** Processes whose memory is the proxy's (local + remote). */
  pids: number[];
  stop(): Promise<void>;
}

/** A free TCP port on 127.0.0.1. */
export function freePort(): number {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = listener.addr.port;
  listener.close();
  return port;
}

/** A child process whose output goes to a log file in `dir`. */
class Child {
  readonly process: Deno.ChildProcess;
  readonly log: string;

  constructor(dir: string, name: string, command: string, args: string[], env = {}) {
    this.log = `${dir}/${name}.log`;
    const file = Deno.openSync(this.log, { write: true, create: true, truncate: true });
    this.process = new Deno.Command(command, {
      args,
      cwd: ROOT,
      env: { NO_COLOR: "1", ...env },
      stdin: "null",
      stdout: "piped",
      stderr: "piped",
    }).spawn();
    const writer = file.writable.getWriter();
    const copy = async (stream: ReadableStream<Uint8Array>) => {
      for await (const chunk of stream) await writer.write(chunk);
    };
    Promise.all([copy(this.process.stdout), copy(this.process.stderr)])
      .finally(() => writer.close().catch(() => {}));
  }

  get pid(): number {
    return this.process.pid;
  }

  async stop(): Promise<void> {
    try {
      this.process.kill("SIGTERM");
    } catch {
      // already exited
    }
    const timer = setTimeout(() => {
      try {
        this.process.kill("SIGKILL");
      } catch {
        // exited meanwhile
      }
    }, 5000);
    await this.process.status;
    clearTimeout(timer);
  }
}

/**
 * Starts one of `scripts/bench/` (`sink.ts`, `udp_echo.py`, `delay_relay.ts`) in its own
 * process with `args` (a `.py` one with `python3`), and waits for the "… on PORT" line it
 * prints once listening.
 *
 * @throws {Error} when it exits first
 */
export async function startScript(
  script: string,
  args: string[] = [],
): Promise<{ port: number; process: Deno.ChildProcess }> {
  const path = `${ROOT}scripts/bench/${script}`;
  const [command, ...before] = script.endsWith(".py")
    ? ["python3"]
    : [DENO, "run", "-q", "-P=bench"];
  const process = new Deno.Command(command, {
    args: [...before, path, ...args],
    stdin: "null",
    stdout: "piped",
    stderr: "inherit",
  }).spawn();
  const reader = process.stdout.pipeThrough(new TextDecoderStream()).getReader();
  let text = "";
  while (!/ on \d+/.test(text)) {
    const { value, done } = await reader.read();
    if (done) throw new Error(`${script} exited before listening`);
    text += value;
  }
  reader.releaseLock();
  return { port: Number(/ on (\d+)/.exec(text)![1]), process };
}

/** Waits until something accepts TCP connections on `port` (or `ms` pass). */
export async function waitForPort(port: number, child?: Child, ms = 20_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (Date.now() < deadline) {
    try {
      (await Deno.connect({ hostname: "127.0.0.1", port })).close();
      return;
    } catch {
      await new Promise((r) => setTimeout(r, 50));
    }
  }
  const log = child ? await Deno.readTextFile(child.log).catch(() => "") : "";
  throw new Error(`nothing listens on ${port} after ${ms} ms\n${log}`);
}

async function run(command: string, args: string[], env = {}): Promise<string> {
  const out = await new Deno.Command(command, { args, cwd: ROOT, env, stdin: "null" }).output();
  const text = new TextDecoder();
  if (!out.success) {
    throw new Error(`${command} ${args.join(" ")} failed:\n${text.decode(out.stderr)}`);
  }
  return text.decode(out.stdout);
}

function stopAll(children: Child[]): () => Promise<void> {
  return async () => {
    for (const child of children.reverse()) await child.stop();
  };
}

/**
 * What lies between a contender's client half and its server half: given the server's port, the
 * port the client should dial instead (a delay relay, `delay_relay.ts`). Loopback by default.
 */
export type Link = (serverPort: number) => Promise<number>;

const LOOPBACK: Link = (port) => Promise.resolve(port);

/** One half of a contender: a server the other half connects to, or a SOCKS5 client. */
interface Half {
  child: Child;
  port: number;
}

/** A server half, with the certificate a client must trust. */
interface ServerHalf extends Half {
  cert: string;
}

let remotesStarted = 0;

/** The real `remote.ts serve --allow-private`, with a user `bench`. */
async function swiftRemote(dir: string, denoFlags: string[]): Promise<ServerHalf> {
  const data = `${dir}/swiftproxy-${++remotesStarted}`;
  const remote = ["run", "-q", "-P=remote", ...denoFlags, "remote.ts"];
  await run(DENO, [...remote, "init", "--data", data]);
  await run(DENO, [...remote, "user", "add", "bench", "--password", PASSWORD, "--data", data]);
  const port = freePort();
  const child = new Child(dir, "swiftproxy-remote", DENO, [
    ...remote,
    "serve",
    "--data",
    data,
    "--listen",
    `127.0.0.1:${port}`,
    "--allow-private",
    // Thousands of tunnels of one user, as trojan (which has no such limits) gets them.
    "--max-conns",
    "0",
    "--user-max-conns",
    "0",
    "--log-level",
    "warning",
  ]);
  await waitForPort(port, child);
  return { child, port, cert: `${data}/tls/cert.pem` };
}

/** The real `local.ts`, logging in to the Trojan server `server` as `bench`. */
async function swiftLocal(
  dir: string,
  server: ServerHalf,
  denoFlags: string[],
  localFlags: string[] = [],
): Promise<Half> {
  const port = freePort();
  const child = new Child(dir, "swiftproxy-local", DENO, [
    "run",
    "-q",
    "-P=local",
    ...denoFlags,
    "local.ts",
    "--listen",
    `127.0.0.1:${port}`,
    "--remote",
    `127.0.0.1:${server.port}`,
    "--user",
    "bench",
    "--ca",
    server.cert,
    "--server-name",
    "localhost",
    "--log-level",
    "warning",
    "--no-ui",
    "--config",
    `${dir}/swiftproxy-local-${port}.json`,
    ...localFlags,
  ], { SWIFTPROXY_PASSWORD: PASSWORD });
  await waitForPort(port, child);
  return { child, port };
}

function contender(name: string, client: Half, server: Half): Contender {
  return {
    name,
    socksPort: client.port,
    pids: [client.child.pid, server.child.pid],
    stop: stopAll([server.child, client.child]),
  };
}

/**
 * The real `remote.ts serve --allow-private` and `local.ts` over TLS; `localFlags` go to the
 * local (`--preconnect 0`), and `name` names the row.
 */
export async function startSwiftProxy(
  dir: string,
  denoFlags: string[] = [],
  link: Link = LOOPBACK,
  localFlags: string[] = [],
  name = "SwiftProxy",
): Promise<Contender> {
  const server = await swiftRemote(dir, denoFlags);
  const via = { ...server, port: await link(server.port) };
  return contender(name, await swiftLocal(dir, via, denoFlags, localFlags), server);
}

/**
 * Debian's trojan client with SwiftProxy's remote: with {@linkcode startLocalWithTrojan}, shows
 * which half of SwiftProxy costs what, since each runs next to a trojan half.
 */
export async function startTrojanWithRemote(dir: string): Promise<Contender> {
  const server = await swiftRemote(dir, []);
  return contender("trojan → SwiftProxy remote", await trojanClient(dir, server), server);
}

/** SwiftProxy's local with Debian's trojan server. */
export async function startLocalWithTrojan(dir: string): Promise<Contender> {
  const server = await trojanServer(dir);
  return contender("SwiftProxy local → trojan", await swiftLocal(dir, server, []), server);
}

/** A self-signed ECDSA P-256 certificate for `localhost` made by `openssl`. */
async function opensslCert(dir: string): Promise<{ cert: string; key: string }> {
  const cert = `${dir}/trojan-cert.pem`;
  const key = `${dir}/trojan-key.pem`;
  await run("openssl", [
    "req",
    "-x509",
    "-newkey",
    "ec",
    "-pkeyopt",
    "ec_paramgen_curve:P-256",
    "-nodes",
    "-days",
    "2",
    "-subj",
    "/CN=localhost",
    "-addext",
    "subjectAltName=DNS:localhost,IP:127.0.0.1",
    // rustls (SwiftProxy's local) refuses a CA certificate as a server's own.
    "-addext",
    "basicConstraints=critical,CA:FALSE",
    "-keyout",
    key,
    "-out",
    cert,
  ]);
  return { cert, key };
}

const TROJAN_TCP = { no_delay: true, keep_alive: true, reuse_port: false, fast_open: false };
/** SwiftProxy's wire token is that of the password `user:password`, so this works for both. */
const TROJAN_PASSWORD = `bench:${PASSWORD}`;

/**
 * Runs a JSON-configured program (`trojan -c`, `v2ray -config`) with `config` as `name`.json
 * and waits until it listens on `port`.
 */
async function runConfigured(
  dir: string,
  name: string,
  command: "trojan" | "v2ray",
  config: object,
  port: number,
) {
  await Deno.writeTextFile(`${dir}/${name}.json`, JSON.stringify(config));
  const flag = command === "trojan" ? "-c" : "-config";
  const child = new Child(dir, name, command, [flag, `${dir}/${name}.json`]);
  await waitForPort(port, child);
  return child;
}

/** Runs Debian's `trojan` with `config` (as `name`.json) and waits until it listens on `port`. */
function runTrojan(dir: string, name: string, config: object, port: number) {
  return runConfigured(dir, name, "trojan", config, port);
}

/** Runs V2Ray with `config` (as `name`.json) and waits until it listens on `port`. */
function runV2Ray(dir: string, name: string, config: object, port: number) {
  return runConfigured(dir, name, "v2ray", config, port);
}

/** Debian's trojan server with an `openssl` certificate. */
async function trojanServer(dir: string): Promise<ServerHalf> {
  const { cert, key } = await opensslCert(dir);
  const port = freePort();
  const config = {
    run_type: "server",
    local_addr: "127.0.0.1",
    local_port: port,
    // Where non-Trojan connections go; the benchmark sends none.
    remote_addr: "127.0.0.1",
    remote_port: freePort(),
    password: [TROJAN_PASSWORD],
    log_level: 2,
    ssl: { cert, key, alpn: ["http/1.1"], reuse_session: true, session_ticket: false },
    tcp: TROJAN_TCP,
  };
  return { child: await runTrojan(dir, "trojan-server", config, port), port, cert };
}

/** Debian's trojan client, verifying `server`'s certificate and name. */
async function trojanClient(dir: string, server: ServerHalf): Promise<Half> {
  const port = freePort();
  const config = {
    run_type: "client",
    local_addr: "127.0.0.1",
    local_port: port,
    remote_addr: "127.0.0.1",
    remote_port: server.port,
    password: [TROJAN_PASSWORD],
    log_level: 2,
    ssl: {
      verify: true,
      verify_hostname: true,
      cert: server.cert,
      sni: "localhost",
      alpn: ["h2", "http/1.1"],
    },
    tcp: TROJAN_TCP,
  };
  return { child: await runTrojan(dir, "trojan-client", config, port), port };
}

/** Debian's `trojan` as server and as client, verifying the server's certificate. */
export async function startTrojan(dir: string, link: Link = LOOPBACK): Promise<Contender> {
  const server = await trojanServer(dir);
  const via = { ...server, port: await link(server.port) };
  return contender("trojan", await trojanClient(dir, via), server);
}

/** `ss-server` + `ss-local`, chacha20-ietf-poly1305, with TCP_NODELAY (`--no-delay`). */
export async function startShadowsocks(dir: string, link: Link = LOOPBACK): Promise<Contender> {
  const serverPort = freePort();
  const socksPort = freePort();
  // -u: the UDP relay too (SOCKS5 UDP ASSOCIATE on ss-local), for the UDP rows.
  const common = ["-k", PASSWORD, "-m", "chacha20-ietf-poly1305", "--no-delay", "-u"];
  const server = new Child(dir, "ss-server", "ss-server", [
    "-s",
    "127.0.0.1",
    "-p",
    String(serverPort),
    ...common,
  ]);
  await waitForPort(serverPort, server);
  const client = new Child(dir, "ss-local", "ss-local", [
    "-s",
    "127.0.0.1",
    "-p",
    String(await link(serverPort)),
    "-b",
    "127.0.0.1",
    "-l",
    String(socksPort),
    ...common,
  ]);
  await waitForPort(socksPort, client);
  return {
    name: "shadowsocks-libev",
    socksPort,
    pids: [client.pid, server.pid],
    stop: stopAll([server, client]),
  };
}

/**
 * V2Ray (Debian's 4.34) as a Trojan server (freedom outbound) and as a SOCKS5-to-Trojan
 * client verifying the server's certificate: the UDP rows' third Trojan implementation.
 */
export async function startV2Ray(dir: string, link: Link = LOOPBACK): Promise<Contender> {
  const { cert, key } = await opensslCert(dir);
  const serverPort = freePort();
  const socksPort = freePort();
  const tls = { network: "tcp", security: "tls" };
  const server = await runV2Ray(dir, "v2ray-server", {
    log: { loglevel: "warning" },
    inbounds: [{
      listen: "127.0.0.1",
      port: serverPort,
      protocol: "trojan",
      settings: { clients: [{ password: TROJAN_PASSWORD }] },
      streamSettings: {
        ...tls,
        tlsSettings: { certificates: [{ certificateFile: cert, keyFile: key }] },
      },
    }],
    outbounds: [{ protocol: "freedom" }],
  }, serverPort);
  const client = await runV2Ray(dir, "v2ray-client", {
    log: { loglevel: "warning" },
    inbounds: [{
      listen: "127.0.0.1",
      port: socksPort,
      protocol: "socks",
      settings: { auth: "noauth", udp: true, ip: "127.0.0.1" },
    }],
    outbounds: [{
      protocol: "trojan",
      settings: {
        servers: [{
          address: "127.0.0.1",
          port: await link(serverPort),
          password: TROJAN_PASSWORD,
        }],
      },
      streamSettings: {
        ...tls,
        tlsSettings: {
          serverName: "localhost",
          certificates: [{ usage: "verify", certificateFile: cert }],
        },
      },
    }],
  }, socksPort);
  return contender("V2Ray (Trojan)", { child: client, port: socksPort }, {
    child: server,
    port: serverPort,
  });
}

/** `microsocks`: one plain SOCKS5 hop, for reference. */
export async function startMicrosocks(dir: string): Promise<Contender> {
  const socksPort = freePort();
  const child = new Child(dir, "microsocks", "microsocks", [
    "-i",
    "127.0.0.1",
    "-p",
    String(socksPort),
  ]);
  await waitForPort(socksPort, child);
  return { name: "microsocks", socksPort, pids: [child.pid], stop: stopAll([child]) };
}

/** The direct row: no proxy at all. */
export function direct(): Contender {
  return { name: "direct", pids: [], stop: () => Promise.resolve() };
}

/** Versions of everything measured, for the report. */
export async function versions(): Promise<Record<string, string>> {
  const first = async (command: string, args: string[], pattern: RegExp) => {
    try {
      const out = await new Deno.Command(command, { args, stdout: "piped", stderr: "piped" })
        .output();
      const text = new TextDecoder().decode(out.stdout) + new TextDecoder().decode(out.stderr);
      return pattern.exec(text)?.[1] ?? "?";
    } catch {
      return "not installed";
    }
  };
  const dpkg = (name: string) => first("dpkg-query", ["-W", "-f", "${Version}", name], /^(\S+)/);
  return {
    deno: Deno.version.deno,
    trojan: await dpkg("trojan"),
    "shadowsocks-libev": await dpkg("shadowsocks-libev"),
    microsocks: await dpkg("microsocks"),
    v2ray: await dpkg("v2ray"),
    chromium: await dpkg("chromium"),
    openssl: await first("openssl", ["version"], /OpenSSL (\S+)/),
  };
}
