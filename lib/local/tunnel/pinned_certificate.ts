/**
 * A pinned remote certificate (a link's `pcs`: SHA-256 of the leaf's DER). The pin alone cannot
 * be a trust anchor, so the leaf is fetched once, unverified (nothing but a hello is sent), and
 * kept when its SHA-256 is the pin. Every tunnel then verifies its chain to that certificate
 * alone and compares its leaf with the pin before the first byte is written
 * (`node_tls_dial.ts`), so neither an impostor's self-signed certificate nor one a public CA
 * issued for the same name gets a tunnel.
 */
import { checkServerIdentity, connect } from "node:tls";
import { createHash } from "node:crypto";
import type { Destination } from "../../protocol/address.ts";

/**
 * The ALPN every hello of the local offers (this check's and each tunnel's,
 * `node_tls_dial.ts`): what browsers offer, so the hello looks less like a proxy's (a TLS
 * client without ALPN on port 443 is rarely a browser). What the remote selects is ignored:
 * the Trojan header follows the handshake whatever it is.
 */
export const BROWSER_ALPN = ["h2", "http/1.1"];

/** The remote's certificate is not the pinned one. */
export class PinMismatch extends Error {
  constructor(readonly pin: string, readonly found: string) {
    super(`the remote's certificate has SHA-256 ${found}, not the pinned ${pin}`);
    this.name = "PinMismatch";
  }
}

/**
 * The mismatch when the leaf certificate `der` does not have SHA-256 `pin`, else undefined.
 *
 * @example const mismatch = pinMismatch(socket.getPeerCertificate().raw, pin);
 */
export function pinMismatch(der: Uint8Array | undefined, pin: string): PinMismatch | undefined {
  const found = der ? sha256Hex(der) : "(no certificate)";
  return found === pin ? undefined : new PinMismatch(pin, found);
}

/** The remote's certificate is the pinned one, but not issued for the server name asked. */
export class PinnedNameMismatch extends Error {
  constructor(readonly serverName: string, readonly names: string) {
    super(`the pinned certificate is not issued for ${serverName} (it names ${names})`);
    this.name = "PinnedNameMismatch";
  }
}

function sha256Hex(der: Uint8Array): string {
  return createHash("sha256").update(der).digest("hex");
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
 * @throws {PinnedNameMismatch} when it shows the pinned one, not issued for `serverName` (every
 *   tunnel would fail the name check)
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
      ALPNProtocols: BROWSER_ALPN,
    });
    const timer = setTimeout(() => {
      socket.destroy();
      reject(new Error(`no TLS handshake within ${timeoutMs} ms`));
    }, timeoutMs);
    socket.once("secureConnect", () => {
      clearTimeout(timer);
      const leaf = socket.getPeerCertificate();
      const der = new Uint8Array(leaf.raw);
      socket.destroy();
      const mismatch = pinMismatch(der, pin);
      if (mismatch) reject(mismatch);
      else if (checkServerIdentity(serverName, leaf)) {
        reject(new PinnedNameMismatch(serverName, leaf.subjectaltname || "no names"));
      } else resolve(toPem(der));
    });
    socket.once("error", (error) => {
      clearTimeout(timer);
      reject(error);
    });
  });
}
