/**
 * A tunnel's TCP + TLS opened with `node:net`/`node:tls` instead of `Deno.connect` +
 * `Deno.startTls`, chosen by `SWIFTPROXY_TLS_CLIENT=node` (a prototype; see docs/BENCHMARKS.md
 * "New connections and memory per tunnel": a held `Deno.startTls` client holds ~110 KiB of
 * native memory, a `node:tls` one ~16 KiB). Known gap: node reports a TCP close without TLS
 * close_notify as a clean end, so the access log cannot say "closed the tunnel at once"
 * (tests/e2e/closed_at_once_test.ts fails with this switch on).
 */
import net from "node:net";
import tls from "node:tls";
import { NodeTlsConn } from "../common/node_tls_conn.ts";

/** Whether tunnels use `node:tls`: `SWIFTPROXY_TLS_CLIENT=node`, read once. */
export const NODE_TLS_CLIENT = (() => {
  const variable = "SWIFTPROXY_TLS_CLIENT";
  if (Deno.permissions.querySync({ name: "env", variable }).state !== "granted") return false;
  return Deno.env.get(variable) === "node";
})();

/**
 * A TCP connection to `host:port`, Nagle off; `signal` destroys it.
 *
 * @throws {Error} with node's `code` (`ECONNREFUSED`, …) when it cannot connect
 */
export function connectNodeTcp(
  host: string,
  port: number,
  signal: AbortSignal,
): Promise<net.Socket> {
  return new Promise((resolve, reject) => {
    const raw = net.connect({ host, port, noDelay: true, allowHalfOpen: true });
    const abort = () => raw.destroy(new Error("aborted"));
    const fail = (error: Error) => {
      signal.removeEventListener("abort", abort);
      reject(error);
    };
    signal.addEventListener("abort", abort, { once: true });
    raw.once("error", fail);
    raw.once("connect", () => {
      signal.removeEventListener("abort", abort);
      raw.off("error", fail);
      // Its errors reach the TLS socket on top, which reports them.
      raw.on("error", () => {});
      resolve(raw);
    });
  });
}

/** One context per set of trusted certificates: building one parses every PEM again. */
const contexts = new WeakMap<string[], tls.SecureContext>();

function contextFor(caCerts: string[] | undefined): tls.SecureContext | undefined {
  if (!caCerts) return undefined;
  let context = contexts.get(caCerts);
  if (!context) contexts.set(caCerts, context = tls.createSecureContext({ ca: caCerts }));
  return context;
}

/**
 * TLS over `raw`, the certificate checked against `caCerts` (node's `ca`: those only, when
 * given) or the default roots, and against `serverName`; `signal` destroys it.
 *
 * @throws {Error} when the handshake fails or the certificate is not trusted
 */
export function startNodeTls(
  raw: net.Socket,
  serverName: string,
  caCerts: string[] | undefined,
  signal: AbortSignal,
): Promise<NodeTlsConn> {
  return new Promise((resolve, reject) => {
    const isIp = net.isIP(serverName) !== 0;
    const socket = tls.connect({
      socket: raw,
      host: serverName,
      servername: isIp ? undefined : serverName,
      secureContext: contextFor(caCerts),
      allowHalfOpen: true,
    } as tls.ConnectionOptions);
    const abort = () => socket.destroy(new Error("aborted"));
    const fail = (error: Error) => {
      signal.removeEventListener("abort", abort);
      raw.destroy();
      reject(error);
    };
    signal.addEventListener("abort", abort, { once: true });
    socket.once("error", fail);
    socket.once("secureConnect", () => {
      signal.removeEventListener("abort", abort);
      socket.off("error", fail);
      resolve(new NodeTlsConn(socket, raw));
    });
  });
}
