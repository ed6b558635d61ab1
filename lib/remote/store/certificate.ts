/**
 * The remote's TLS certificate: self-signed creation (P-256, CA:FALSE), checks, fingerprints.
 *
 * Reading a certificate goes through `node:crypto`'s `X509Certificate` (native); only making
 * one needs `@peculiar/x509`, loaded then, since loading it costs every command of the remote
 * a tenth of a second at start.
 */
import { X509Certificate } from "node:crypto";
import { isIPv4, isIPv6 } from "../../protocol/address.ts";

/** `@peculiar/x509`, loaded once, with the polyfill it needs first and Web Crypto set. */
async function peculiarX509(): Promise<typeof import("@peculiar/x509")> {
  // @peculiar/x509 resolves its services through tsyringe, which needs this polyfill first.
  await import("reflect-metadata");
  const x509 = await import("@peculiar/x509");
  x509.cryptoProvider.set(crypto);
  return x509;
}

/** A certificate and key in PEM. */
export interface CertifiedKey {
  cert: string;
  key: string;
}

/**
 * Creates a self-signed leaf certificate valid for ten years for `names` (DNS names and
 * IP literals). CA:FALSE, because rustls refuses a CA certificate used as a leaf.
 *
 * @example const { cert, key } = await createCertificate(["localhost", "127.0.0.1"]);
 */
export async function createCertificate(names: string[]): Promise<CertifiedKey> {
  const algorithm = { name: "ECDSA", namedCurve: "P-256", hash: "SHA-256" };
  const keys = await crypto.subtle.generateKey(algorithm, true, ["sign", "verify"]);
  const now = new Date();
  const serial = Array.from(crypto.getRandomValues(new Uint8Array(16)))
    .map((b) => b.toString(16).padStart(2, "0")).join("").replace(/^[89a-f]/, "1");
  const unique = [...new Set(names)];
  const x509 = await peculiarX509();
  const cert = await x509.X509CertificateGenerator.createSelfSigned({
    serialNumber: serial,
    name: `CN=${unique[0] ?? "swiftproxy"}`,
    notBefore: new Date(now.getTime() - 60 * 60 * 1000),
    notAfter: new Date(now.getTime() + 10 * 365 * 24 * 60 * 60 * 1000),
    signingAlgorithm: algorithm,
    keys,
    extensions: [
      new x509.BasicConstraintsExtension(false, undefined, true),
      new x509.KeyUsagesExtension(x509.KeyUsageFlags.digitalSignature, true),
      new x509.ExtendedKeyUsageExtension([x509.ExtendedKeyUsage.serverAuth]),
      new x509.SubjectAlternativeNameExtension(
        unique.map((name) =>
          ({ type: isIPv4(name) || isIPv6(name) ? "ip" : "dns", value: name }) as const
        ),
      ),
      await x509.SubjectKeyIdentifierExtension.create(keys.publicKey),
    ],
  });
  const pkcs8 = await crypto.subtle.exportKey("pkcs8", keys.privateKey);
  return { cert: cert.toString("pem") + "\n", key: toPem(pkcs8, "PRIVATE KEY") };
}

/** The SHA-256 fingerprint of a PEM certificate (a chain: its first), as `AB:CD:…`. */
export function fingerprint(certPem: string): string {
  return new X509Certificate(certPem).fingerprint256;
}

function toPem(der: ArrayBuffer, label: string): string {
  const base64 = btoa(String.fromCharCode(...new Uint8Array(der)));
  const lines = base64.match(/.{1,64}/g)!.join("\n");
  return `-----BEGIN ${label}-----\n${lines}\n-----END ${label}-----\n`;
}

/** A certificate or key that TLS cannot use. */
export class CertificateError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "CertificateError";
  }
}

/**
 * Checks that a PEM certificate chain and key can serve TLS together.
 *
 * @throws {CertificateError} saying what TLS found wrong
 * @example checkCertificate(Deno.readTextFileSync("cert.pem"), Deno.readTextFileSync("key.pem"));
 */
export function checkCertificate(cert: string, key: string): void {
  try {
    // Deno's TLS checks the PEM and that the key matches the certificate; node's does not.
    Deno.listenTls({ hostname: "127.0.0.1", port: 0, cert, key }).close();
  } catch (error) {
    throw new CertificateError((error as Error).message);
  }
}
