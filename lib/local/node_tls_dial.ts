/**
 * A tunnel's TCP + TLS over `node:net` + `node:tls`, its certificate checked before the caller
 * writes a byte. Why not `Deno.connect` + `Deno.startTls`: a held `Deno.startTls` client holds
 * ~110 KiB of native memory, a `node:tls` one ~16 KiB (docs/BENCHMARKS.md), and Deno adds
 * `caCerts` to Mozilla's roots, so a pinned or `--ca` remote would also pass with any publicly
 * issued certificate for its name. `node:tls`'s `ca` replaces the roots (Deno 2.9) and its
 * socket shows the peer's certificate.
 */
import net from "node:net";
import tls from "node:tls";
import { NodeTlsConn, tcpResetCheck } from "../common/node_tls_conn.ts";
import { pinMismatch } from "./pinned_certificate.ts";

/** What a tunnel's certificate must be; neither field: any that Deno's roots trust. */
export interface TunnelTrust {
  /** The only trust anchors (PEM): `--ca`, or the pinned certificate itself. */
  caCerts?: string[];
  /** Lowercase hex SHA-256 of the leaf's DER, which must match exactly (a link's `pcs`). */
  pin?: string;
}

/**
 * A TCP connection to `host:port`, Nagle off; `signal` destroys it.
 *
 * @throws {Error} with node's `code` (`ECONNREFUSED`, …) when it cannot connect
 * @example const raw = await connectNodeTcp("127.0.0.1", 8443, AbortSignal.timeout(10_000));
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

/** One context per set of trust anchors: building one parses every PEM again. */
const contexts = new WeakMap<string[], tls.SecureContext>();

function contextFor(caCerts: string[] | undefined): tls.SecureContext | undefined {
  if (!caCerts) return undefined;
  let context = contexts.get(caCerts);
  if (!context) contexts.set(caCerts, context = tls.createSecureContext({ ca: caCerts }));
  return context;
}

/**
 * TLS over `raw`: the chain verified to `trust.caCerts` only (or Deno's roots without them),
 * the name checked against `serverName`, the leaf compared with `trust.pin`; `signal` destroys
 * it. A pin keeps verification on, with the pinned certificate as the only anchor: that checks
 * the handshake's signature with its key, so a replayed copy of the certificate fails.
 *
 * @throws {PinMismatch} when the leaf is not the pinned one
 * @throws {Error} when the handshake fails or the certificate is not trusted
 * @example const conn = await startNodeTls(raw, "vpn.example.org", { pin }, signal);
 */
export function startNodeTls(
  raw: net.Socket,
  serverName: string,
  trust: TunnelTrust,
  signal: AbortSignal,
): Promise<NodeTlsConn> {
  return new Promise((resolve, reject) => {
    const isIp = net.isIP(serverName) !== 0;
    const options = {
      socket: raw,
      host: serverName,
      servername: isIp ? undefined : serverName,
      secureContext: contextFor(trust.caCerts),
      allowHalfOpen: true,
    } as tls.ConnectionOptions;
    // Node hands this the leaf it has already parsed; an error refuses the handshake.
    const pin = trust.pin;
    if (pin) {
      options.checkServerIdentity = (host, cert) =>
        tls.checkServerIdentity(host, cert) ?? pinMismatch(cert.raw, pin);
    }
    const socket = tls.connect(options);
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
      resolve(new NodeTlsConn(socket, raw, { wasReset: tcpResetCheck(raw) }));
    });
  });
}
