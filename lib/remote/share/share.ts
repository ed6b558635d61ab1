/**
 * What the admin hands a user: the `trojan://` link for the server's certificate (pinned when
 * self-signed), its QR code for a terminal or a page, and the subscription URL.
 */
import { createHash, X509Certificate } from "node:crypto";
import { renderSVG, renderUnicodeCompact } from "uqr";
import { formatHostPort, isIPv4, isIPv6 } from "../../protocol/address.ts";
import { formatShareLink } from "../../protocol/share_link.ts";
import { isLoopbackHost } from "../../common/security/loopback.ts";

/** Where and how clients reach the server, as links carry it. */
export interface ShareEndpoint {
  host: string;
  port: number;
  /** The name the certificate is checked against. */
  sni: string;
  /** Hex SHA-256 of the leaf certificate when it is self-signed (pinned), else absent. */
  pin?: string;
}

/** What links need to know of the server's certificate. */
export interface CertificateFacts {
  /** Lowercase hex SHA-256 of the leaf certificate (DER). */
  sha256: string;
  selfSigned: boolean;
  /** Its subject alternative names, DNS names and IP addresses, in order. */
  names: string[];
  /** The leaf certificate alone, PEM. */
  leafPem: string;
  /** Base64 SHA-256 of the leaf's public key (its DER SubjectPublicKeyInfo), as sing-box pins. */
  publicKeySha256: string;
}

/** The leaf (first) certificate of a PEM chain. */
function leafOf(pem: string): X509Certificate {
  const first = /-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/.exec(pem);
  if (!first) throw new Error("expected a PEM certificate");
  return new X509Certificate(first[0]);
}

/**
 * The DNS names and IP addresses of `cert`'s subjectAltName, in order. `node:crypto` writes
 * them as `DNS:a, IP Address:b, email:…`; neither a name nor an address holds ", ".
 */
function alternativeNames(cert: X509Certificate): string[] {
  return (cert.subjectAltName ?? "").split(", ").flatMap((entry) => {
    const match = /^(?:DNS|IP Address):(.+)$/.exec(entry);
    return match ? [match[1]!] : [];
  });
}

/**
 * The fingerprint, self-signedness and names of a PEM certificate (chain: its leaf).
 *
 * @throws {Error} when the text holds no certificate
 * @example const { sha256, names } = certificateFacts(Deno.readTextFileSync("cert.pem"));
 */
export function certificateFacts(pem: string): CertificateFacts {
  const leaf = leafOf(pem);
  const spki = leaf.publicKey.export({ type: "spki", format: "der" });
  return {
    sha256: leaf.fingerprint256.replaceAll(":", "").toLowerCase(),
    selfSigned: leaf.subject === leaf.issuer && leaf.verify(leaf.publicKey),
    names: alternativeNames(leaf),
    leafPem: leaf.toString(),
    publicKeySha256: createHash("sha256").update(spki).digest("base64"),
  };
}

/**
 * The certificate's name clients should dial: the first one that is not loopback, names with a
 * dot and IP addresses before bare host names (which rarely resolve elsewhere); undefined when
 * there is none.
 *
 * @example publicName(["localhost", "127.0.0.1", "box", "vpn.example.org"]) // "vpn.example.org"
 */
export function publicName(names: string[]): string | undefined {
  const outside = names.filter((n) => !isLoopbackHost(n) && !n.startsWith("*"));
  return outside.find((n) => n.includes(".") || isIPv6(n)) ?? outside[0];
}

/** Thrown when no host for links is given and the certificate names none but loopback. */
export class NoPublicHost extends Error {
  override name = "NoPublicHost";
}

/**
 * The endpoint for links to a server on `port` with certificate `facts`: `host` when given,
 * else the certificate's {@linkcode publicName}. The certificate is pinned when self-signed.
 *
 * @throws {NoPublicHost} when there is no host to use, saying how to give one
 * @example shareEndpoint(facts, 8443, "vpn.example.org")
 */
export function shareEndpoint(
  facts: CertificateFacts,
  port: number,
  host?: string,
): ShareEndpoint {
  const chosen = host || publicName(facts.names);
  if (!chosen) {
    throw new NoPublicHost(
      "the certificate names no public host: give the server's public name or address with " +
        "--host (or make the certificate with init --san NAME)",
    );
  }
  // A DNS name is checked as itself; an IP address against the certificate's IP names.
  const sni = isIPv4(chosen) || isIPv6(chosen) || facts.names.includes(chosen)
    ? chosen
    : publicName(facts.names.filter((n) => !isIPv4(n) && !isIPv6(n))) ?? chosen;
  return { host: chosen, port, sni, ...(facts.selfSigned ? { pin: facts.sha256 } : {}) };
}

/**
 * The user's `trojan://` link; the label is `NAME@HOST`.
 *
 * @example shareLink("ann", password, endpoint) // "trojan://ann%3A…@vpn.example.org:8443?…"
 */
export function shareLink(user: string, password: string, endpoint: ShareEndpoint): string {
  return formatShareLink({ user, password, ...endpoint, label: `${user}@${endpoint.host}` });
}

/** The subscription URL for `token` on `endpoint`. */
export function subscriptionUrl(endpoint: ShareEndpoint, token: string): string {
  return `https://${formatHostPort(endpoint)}/sub/${token}`;
}

/**
 * A QR code of `text` in Unicode half blocks, two modules a character, for a terminal (light
 * modules drawn, so it reads on the usual dark background), with a quiet zone.
 *
 * @example console.log(terminalQr(link));
 */
export function terminalQr(text: string): string {
  return renderUnicodeCompact(text, { border: 2, ecc: "L" });
}

/**
 * The same QR code as an SVG document, for a page.
 *
 * @example element.innerHTML = svgQr(link);
 */
export function svgQr(text: string): string {
  return renderSVG(text, { border: 2, ecc: "L", pixelSize: 6 });
}
