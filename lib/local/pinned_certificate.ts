/**
 * A pinned remote certificate (a link's `pcs`). `Deno.startTls` takes no custom verifier and
 * shows no peer certificate, so the leaf certificate is fetched once over `node:tls` without
 * verification, its SHA-256 compared with the pin, and that PEM then given to every tunnel as a
 * trust anchor (`caCerts`): rustls takes a self-signed CA:FALSE certificate as an anchor, as for
 * `--ca`. An impostor's self-signed certificate later on fails the TLS check. Deno adds
 * `caCerts` to Mozilla's roots rather than replacing them, so a certificate that a public CA
 * issued for the same server name would pass too (docs/SECURITY.md says so).
 */
import { connect } from "node:tls";
import { createHash } from "node:crypto";
import type { Destination } from "../protocol/address.ts";

/** The remote's certificate is not the pinned one. */
export class PinMismatch extends Error {
  constructor(readonly pin: string, readonly found: string) {
    super(`the remote's certificate has SHA-256 ${found}, not the pinned ${pin}`);
    this.name = "PinMismatch";
  }
}

function toPem(der: Uint8Array): string {
  const base64 = btoa(String.fromCharCode(...der));
  return `-----BEGIN CERTIFICATE-----\n${base64.match(/.{1,64}/g)!.join("\n")}\n` +
    "-----END CERTIFICATE-----\n";
}

/**
 * The remote's leaf certificate as PEM, once its SHA-256 (lowercase hex, of the DER) is `pin`.
 *
 * @throws {PinMismatch} when the remote shows another certificate
 * @throws {Error} when the remote cannot be reached or does not speak TLS within `timeoutMs`
 * @example const caCerts = [await pinnedCertificate(remote, "vpn.example.org", pin, 10_000)];
 */
export function pinnedCertificate(
  remote: Destination,
  serverName: string,
  pin: string,
  timeoutMs: number,
): Promise<string> {
  return new Promise((resolve, reject) => {
    // Verification is off here only: the pin is the check, and nothing is sent but a hello.
    const socket = connect({
      host: remote.host,
      port: remote.port,
      servername: /^[\d.]+$|:/.test(serverName) ? undefined : serverName,
      rejectUnauthorized: false,
    });
    const timer = setTimeout(() => {
      socket.destroy();
      reject(new Error(`no TLS handshake within ${timeoutMs} ms`));
    }, timeoutMs);
    socket.once("secureConnect", () => {
      clearTimeout(timer);
      const der = new Uint8Array(socket.getPeerCertificate().raw);
      socket.destroy();
      const found = createHash("sha256").update(der).digest("hex");
      if (found === pin) resolve(toPem(der));
      else reject(new PinMismatch(pin, found));
    });
    socket.once("error", (error) => {
      clearTimeout(timer);
      reject(error);
    });
  });
}
