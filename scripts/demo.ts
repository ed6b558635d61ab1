/**
 * `deno task demo`: a remote with a fresh data directory and a generated `demo` user, a local
 * on 127.0.0.1:1080 (or another free port) logged in as that user, and a small web page to
 * fetch through them. Ctrl-C stops everything and removes the temporary data.
 */
import { fileURLToPath } from "node:url";
import { WELCOME_URL } from "../lib/protocol/welcome_page.ts";

const ROOT = fileURLToPath(new URL("../", import.meta.url));
const DENO = Deno.execPath();

const USAGE = `Usage: deno task demo

Starts a remote (fresh temporary data, a generated user "demo"), a local logged in as that
user on 127.0.0.1:1080 with its dashboard on 127.0.0.1:9090 (other free ports when those are
taken, said so), and a small web page to fetch through them; prints what to try. Ctrl-C stops
everything and removes the temporary data. It takes no options.`;

if (Deno.args.length > 0) {
  const help = Deno.args.every((a) => a === "--help" || a === "-h");
  (help ? console.log : console.error)(
    help ? USAGE : `error: the demo takes no options, got "${Deno.args.join(" ")}"\n\n${USAGE}`,
  );
  Deno.exit(help ? 0 : 2);
}

/** A free loopback port: `preferred` when free, else any, said so for `what`. */
function freePort(preferred: number, what?: string): number {
  for (const port of [preferred, 0]) {
    try {
      const listener = Deno.listen({ hostname: "127.0.0.1", port });
      const bound = listener.addr.port;
      listener.close();
      if (what && bound !== preferred) {
        console.log(`port ${preferred} is taken: ${what} uses 127.0.0.1:${bound} instead`);
      }
      return bound;
    } catch {
      // taken: fall back to any free port
    }
  }
  throw new Error("no free port on 127.0.0.1");
}

async function runOnce(args: string[]): Promise<string> {
  // Without the caller's SWIFTPROXY_PASSWORD, so `user add` generates the demo's password.
  const env = Deno.env.toObject();
  delete env.SWIFTPROXY_PASSWORD;
  const out = await new Deno.Command(DENO, { args, cwd: ROOT, stdin: "null", env, clearEnv: true })
    .output();
  const text = new TextDecoder();
  if (out.code !== 0) throw new Error(`${args.join(" ")} failed:\n${text.decode(out.stderr)}`);
  return text.decode(out.stdout);
}

/** Starts a program whose output lines are shown with a prefix; resolves once `ready` is seen. */
async function start(
  name: string,
  args: string[],
  ready: RegExp,
  env: Record<string, string> = {},
): Promise<Deno.ChildProcess> {
  const child = new Deno.Command(DENO, {
    args,
    cwd: ROOT,
    env,
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  const { promise, resolve, reject } = Promise.withResolvers<Deno.ChildProcess>();
  child.status.then(() => reject(new Error(`${name} exited before it was ready`)));
  for (const stream of [child.stdout, child.stderr]) {
    (async () => {
      let rest = "";
      for await (const chunk of stream.pipeThrough(new TextDecoderStream())) {
        const lines = (rest + chunk).split("\n");
        rest = lines.pop()!;
        for (const line of lines) {
          if (line.includes("experimental feature")) continue;
          console.log(`[${name}] ${line}`);
          if (ready.test(line)) resolve(child);
        }
      }
    })();
  }
  return await promise;
}

const dataDir = await Deno.makeTempDir({ prefix: "swiftproxy-demo-" });
const remotePort = freePort(8443);
const pagePort = freePort(8080);
const LOCAL_PROXY = `127.0.0.1:${freePort(1080, "the local's proxy")}`;
const DASHBOARD = `127.0.0.1:${freePort(9090, "the dashboard")}`;
const page = Deno.serve(
  { hostname: "127.0.0.1", port: pagePort, onListen() {} },
  () => new Response("Hello through SwiftProxy: local -> TLS tunnel -> remote -> this page.\n"),
);

// A UDP echo on loopback, so the demo can show UDP ASSOCIATE end to end.
const echo = Deno.listenDatagram({ transport: "udp", hostname: "127.0.0.1", port: 0 });
const echoPort = (echo.addr as Deno.NetAddr).port;
(async () => {
  try {
    for (;;) {
      const [data, from] = await echo.receive();
      await echo.send(data, from);
    }
  } catch {
    // closed at the end of the demo
  }
})();

console.log(`SwiftProxy demo (data in ${dataDir})`);
await runOnce([
  "run",
  "-q",
  "-P=remote",
  "remote.ts",
  "init",
  "--data",
  dataDir,
  // Links and subscriptions point where the demo's remote listens.
  "--public",
  `127.0.0.1:${remotePort}`,
]);
const added = await runOnce([
  "run",
  "-q",
  "-P=remote",
  "remote.ts",
  "user",
  "add",
  "demo",
  "--data",
  dataDir,
]);
const password = /password \(shown once\): (\S+)/.exec(added)![1]!;
console.log(`user "demo" created; password (shown once): ${password}`);

const remote = await start("remote", [
  "run",
  "-q",
  "-P=remote",
  "remote.ts",
  "serve",
  "--data",
  dataDir,
  "--listen",
  `127.0.0.1:${remotePort}`,
  // The demo's own page lives on loopback; a real server leaves this off.
  "--allow-private",
], /listening on/);
const local = await start(
  "local",
  [
    "run",
    "-q",
    "-P=local",
    "local.ts",
    "--listen",
    LOCAL_PROXY,
    "--remote",
    `127.0.0.1:${remotePort}`,
    "--user",
    "demo",
    "--ca",
    `${dataDir}/tls/cert.pem`,
    "--ui",
    DASHBOARD,
    // The demo's settings stay in its temporary folder, never in the user's config dir.
    "--config",
    `${dataDir}/local.json`,
  ],
  /proxy on/,
  { SWIFTPROXY_PASSWORD: password },
);

console.log(`
Ready. The remote runs with --allow-private: it may connect to loopback and private addresses,
  so the demo's page on 127.0.0.1 works; a real server leaves it off and refuses them by default.

Try, in another terminal:

  curl --socks5-hostname ${LOCAL_PROXY} http://127.0.0.1:${pagePort}/
  curl -x http://${LOCAL_PROXY} http://127.0.0.1:${pagePort}/
  curl --socks5-hostname ${LOCAL_PROXY} ${WELCOME_URL}
  curl --socks5-hostname ${LOCAL_PROXY} https://example.com/    (needs the internet)

UDP (SOCKS5 UDP ASSOCIATE to a UDP echo on 127.0.0.1:${echoPort}; Debian: python3-socks):
  /usr/bin/python3 -c "import socket, socks; s = socks.socksocket(socket.AF_INET, socket.SOCK_DGRAM); \\
s.set_proxy(socks.SOCKS5, '${LOCAL_PROXY.split(":")[0]}', ${
  LOCAL_PROXY.split(":")[1]
}); s.settimeout(3); \\
s.sendto(b'hello over UDP', ('127.0.0.1', ${echoPort})); print(s.recvfrom(100))"

In a browser: set the SOCKS5 (or HTTP) proxy to ${LOCAL_PROXY}, or use http://${DASHBOARD}/proxy.pac,
  then open ${WELCOME_URL}: the remote answers that name itself, so the page
  ("You are browsing through SwiftProxy as demo") shows the browser really goes through the proxy.
  (Browsers and the PAC file send 127.0.0.1 addresses direct, never through a proxy, so the
  demo's own page above is for curl.)
Dashboard (live rates, open connections, account): http://${DASHBOARD}
A third-party Trojan client: server 127.0.0.1:${remotePort}, password demo:${password},
  and trust ${dataDir}/tls/cert.pem.
Press Ctrl-C to stop.
`);

await new Promise<void>((resolve) => {
  Deno.addSignalListener("SIGINT", resolve);
  Deno.addSignalListener("SIGTERM", resolve);
  remote.status.then(() => resolve());
  local.status.then(() => resolve());
});
console.log("stopping the local and the remote…");
for (const child of [local, remote]) {
  try {
    child.kill("SIGTERM");
  } catch {
    // already exited
  }
}
await Promise.all([local.status, remote.status]);
await page.shutdown();
echo.close();
await Deno.remove(dataDir, { recursive: true });
console.log("stopped.");
Deno.exit(0);
