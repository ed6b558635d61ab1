/**
 * A tunnel's TCP + TLS over `node:tls`, its certificate checked before the caller writes a
 * byte. Why not `Deno.connect` + `Deno.startTls`: a held `Deno.startTls` client holds ~110 KiB
 * of native memory, a `node:tls` one ~16 KiB (docs/BENCHMARKS.md), and Deno adds `caCerts` to
 * Mozilla's roots, so a pinned or `--ca` remote would also pass with any publicly issued
 * certificate for its name. `node:tls`'s `ca` replaces the roots (Deno 2.9) and its socket
 * shows the peer's certificate.
 */
import net from "node:net";
import tls from "node:tls";
import { NodeTlsConn, tcpResetCheck } from "../../common/net/node_tls_conn.ts";
import { BROWSER_ALPN, pinMismatch } from "./pinned_certificate.ts";

/** What a tunnel's certificate must be; neither field: any that Deno's roots trust. */
export interface TunnelTrust {
  /** The only trust anchors (PEM): `--ca`, or the pinned certificate itself. */
  caCerts?: string[];
  /** Lowercase hex SHA-256 of the leaf's DER, which must match exactly (a link's `pcs`). */
  pin?: string;
}

/** Why {@linkcode dialNodeTls} failed: the TCP connect (with node's `code`) or the TLS. */
export class DialFailure extends Error {
  readonly code: string | undefined;

  constructor(readonly phase: "tcp" | "tls", error: Error & { code?: string }) {
    super(error.message, { cause: error });
    this.name = "DialFailure";
    this.code = error.code;
  }
}

const leafCertificate = tls.TLSSocket.prototype.getPeerCertificate;

/** One context per set of trust anchors: building one parses every PEM again. */
const contexts = new WeakMap<string[], tls.SecureContext>();

function contextFor(caCerts: string[] | undefined): tls.SecureContext | undefined {
  if (!caCerts) return undefined;
  let context = contexts.get(caCerts);
  if (!context) contexts.set(caCerts, context = tls.createSecureContext({ ca: caCerts }));
  return context;
}

/**
 * TCP to `host:port`, Nagle off, then TLS: the chain verified to `trust.caCerts` only (or
 * Deno's roots without them), the name checked against `serverName`, the leaf compared with
 * `trust.pin`; `signal` destroys it. One socket for both, no `node:net` socket under it. A pin
 * keeps verification on, with the pinned certificate as the only anchor: that checks the
 * handshake's signature with its key, so a replayed copy of the certificate fails.
 *
 * @throws {DialFailure} `tcp` when it cannot connect, `tls` when the handshake fails or the
 *   certificate is not trusted (a {@linkcode PinMismatch} as the cause for another leaf)
 * @example const conn = await dialNodeTls("127.0.0.1", 8443, "vpn.example.org", { pin }, signal);
 */
export function dialNodeTls(
  host: string,
  port: number,
  serverName: string,
  trust: TunnelTrust,
  signal: AbortSignal,
): Promise<NodeTlsConn> {
  return new Promise((resolve, reject) => {
    const options = {
      host,
      port,
      servername: net.isIP(serverName) !== 0 ? undefined : serverName,
      secureContext: contextFor(trust.caCerts),
      allowHalfOpen: true,
      ALPNProtocols: BROWSER_ALPN,
    } as tls.ConnectionOptions;
    // Node hands this the leaf it has already parsed; an error refuses the handshake.
    const pin = trust.pin;
    options.checkServerIdentity = (_host, cert) =>
      tls.checkServerIdentity(serverName, cert) ?? (pin ? pinMismatch(cert.raw, pin) : undefined);
    const socket = tls.connect(options);
    // For the name check node asks for the detailed certificate: every one in the chain parsed,
    // the CA file split again to find issuers. The check reads the leaf's names only.
    socket.getPeerCertificate = (() =>
      leafCertificate.call(socket, false)) as typeof leafCertificate;
    let phase: "tcp" | "tls" = "tcp";
    const abort = () => socket.destroy(new Error("aborted"));
    const fail = (error: Error) => {
      signal.removeEventListener("abort", abort);
      socket.destroy();
      reject(new DialFailure(phase, error));
    };
    signal.addEventListener("abort", abort, { once: true });
    socket.once("error", fail);
    socket.once("connect", () => {
      phase = "tls";
      socket.setNoDelay(true);
    });
    socket.once("secureConnect", () => {
      signal.removeEventListener("abort", abort);
      socket.off("error", fail);
      resolve(new NodeTlsConn(socket, undefined, { wasReset: tcpResetCheck(socket) }));
    });
  });
}
