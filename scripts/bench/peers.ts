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

/** The real `remote.ts serve --allow-private` and `local.ts` over TLS. */
export async function startSwiftProxy(dir: string, denoFlags: string[] = []): Promise<Contender> {
  const data = `${dir}/swiftproxy`;
  const remote = ["run", "-P=remote", ...denoFlags, "remote.ts"];
  await run(DENO, [...remote, "init", "--data", data]);
  await run(DENO, [...remote, "user", "add", "bench", "--password", PASSWORD, "--data", data]);
  const remotePort = freePort();
  const server = new Child(dir, "swiftproxy-remote", DENO, [
    ...remote,
    "serve",
    "--data",
    data,
    "--listen",
    `127.0.0.1:${remotePort}`,
    "--allow-private",
    "--log-level",
    "warning",
  ]);
  await waitForPort(remotePort, server);
  const socksPort = freePort();
  const client = new Child(dir, "swiftproxy-local", DENO, [
    "run",
    "-P=local",
    ...denoFlags,
    "local.ts",
    "--listen",
    `127.0.0.1:${socksPort}`,
    "--remote",
    `127.0.0.1:${remotePort}`,
    "--user",
    "bench",
    "--ca",
    `${data}/tls/cert.pem`,
    "--log-level",
    "warning",
  ], { SWIFTPROXY_PASSWORD: PASSWORD });
  await waitForPort(socksPort, client);
  return {
    name: "SwiftProxy",
    socksPort,
    pids: [client.pid, server.pid],
    stop: stopAll([server, client]),
  };
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
    "-keyout",
    key,
    "-out",
    cert,
  ]);
  return { cert, key };
}

/** Debian's `trojan` as server and as client, verifying the server's certificate. */
export async function startTrojan(dir: string): Promise<Contender> {
  const { cert, key } = await opensslCert(dir);
  const serverPort = freePort();
  const socksPort = freePort();
  const tcp = { no_delay: true, keep_alive: true, reuse_port: false, fast_open: false };
  const serverConfig = {
    run_type: "server",
    local_addr: "127.0.0.1",
    local_port: serverPort,
    // Where non-Trojan connections go; the benchmark sends none.
    remote_addr: "127.0.0.1",
    remote_port: freePort(),
    password: [PASSWORD],
    log_level: 2,
    ssl: { cert, key, alpn: ["http/1.1"], reuse_session: true, session_ticket: false },
    tcp,
  };
  const clientConfig = {
    run_type: "client",
    local_addr: "127.0.0.1",
    local_port: socksPort,
    remote_addr: "127.0.0.1",
    remote_port: serverPort,
    password: [PASSWORD],
    log_level: 2,
    ssl: { verify: true, verify_hostname: true, cert, sni: "localhost", alpn: ["h2", "http/1.1"] },
    tcp,
  };
  await Deno.writeTextFile(`${dir}/trojan-server.json`, JSON.stringify(serverConfig));
  await Deno.writeTextFile(`${dir}/trojan-client.json`, JSON.stringify(clientConfig));
  const server = new Child(dir, "trojan-server", "trojan", ["-c", `${dir}/trojan-server.json`]);
  await waitForPort(serverPort, server);
  const client = new Child(dir, "trojan-client", "trojan", ["-c", `${dir}/trojan-client.json`]);
  await waitForPort(socksPort, client);
  return {
    name: "trojan",
    socksPort,
    pids: [client.pid, server.pid],
    stop: stopAll([server, client]),
  };
}

/** `ss-server` + `ss-local`, chacha20-ietf-poly1305, with TCP_NODELAY (`--no-delay`). */
export async function startShadowsocks(dir: string): Promise<Contender> {
  const serverPort = freePort();
  const socksPort = freePort();
  const common = ["-k", PASSWORD, "-m", "chacha20-ietf-poly1305", "--no-delay"];
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
    String(serverPort),
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
    openssl: await first("openssl", ["version"], /OpenSSL (\S+)/),
  };
}
