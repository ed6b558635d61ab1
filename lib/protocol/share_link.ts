/**
 * The `trojan://` share link as v2rayN, Shadowrocket and mihomo read it:
 * `trojan://<urlencoded NAME:PASSWORD>@<host or [v6]>:<port>?security=tls&sni=<name>&type=tcp
 * &allowInsecure=0[&pcs=<hex SHA-256 of the leaf certificate>]#<urlencoded label>`.
 * Certificate checks stay on: a self-signed certificate is pinned (`pcs`), never waved through.
 */
import { formatHostPort, parseHostPort } from "./address.ts";
import { ProtocolError } from "./errors.ts";

/** What a share link carries. */
export interface ShareLink {
  /** The account name: the part of the credential before its first `:`. */
  user: string;
  password: string;
  host: string;
  port: number;
  /** The name the certificate is checked against (TLS SNI). */
  sni: string;
  /** Lowercase hex SHA-256 of the leaf certificate (DER), for a self-signed one. */
  pin?: string;
  /** What a client shows the entry as. */
  label: string;
}

const PIN = /^[0-9a-f]{64}$/;

/**
 * A pin as links and `openssl x509 -fingerprint -sha256` write it (with or without colons,
 * either case) in the form links carry: 64 lowercase hex digits.
 *
 * @throws {ProtocolError} when it is not a SHA-256 fingerprint
 * @example normalizePin("AB:CD:…") // "abcd…"
 */
export function normalizePin(text: string): string {
  const pin = text.replaceAll(":", "").toLowerCase();
  if (!PIN.test(pin)) {
    throw new ProtocolError(`expected a SHA-256 fingerprint of 64 hex digits, got "${text}"`);
  }
  return pin;
}

/**
 * Formats a share link.
 *
 * @example
 * formatShareLink({ user: "ann", password: "p w", host: "::1", port: 8443, sni: "localhost",
 *   label: "ann" })
 * // "trojan://ann%3Ap%20w@[::1]:8443?security=tls&sni=localhost&type=tcp&allowInsecure=0#ann"
 */
export function formatShareLink(link: ShareLink): string {
  const credential = encodeURIComponent(`${link.user}:${link.password}`);
  const query = `security=tls&sni=${encodeURIComponent(link.sni)}&type=tcp&allowInsecure=0` +
    (link.pin ? `&pcs=${normalizePin(link.pin)}` : "");
  return `trojan://${credential}@${formatHostPort(link)}?${query}#${
    encodeURIComponent(link.label)
  }`;
}

/**
 * The query parameters that decide how the certificate is checked, grouped by meaning (names
 * clients read as the same thing). A link that gives one of them twice, however spelled, is
 * refused: clients read duplicates differently (first wins, last wins), so such a link can mean
 * `allowInsecure=0` here and `allowInsecure=1` in another client.
 */
const SECURITY_PARAMETERS = [
  ["security"],
  ["type"],
  ["allowInsecure", "insecure"],
  ["sni", "peer"],
  ["pcs"],
];

// deno-lint-ignore no-control-regex
const CONTROL = /[\x00-\x1f\x7f-\x9f\u2028\u2029]/;

function refuseControl(text: string, what: string): string {
  if (CONTROL.test(text)) {
    throw new ProtocolError(`expected ${what} without control characters or line breaks`);
  }
  return text;
}

/** The one value of a security parameter, or null when the link does not give it. */
function single(params: URLSearchParams, names: string[]): string | null {
  const given = names.flatMap((name) => params.getAll(name));
  if (given.length > 1) {
    throw new ProtocolError(
      `expected ${names.join(" or ")} at most once, got it ${given.length} times (clients ` +
        "would read such a link differently)",
    );
  }
  return given[0] ?? null;
}

/**
 * Reads a share link. Refuses one that would turn certificate checks off
 * (`allowInsecure=1`), transports other than TLS over TCP, a security parameter given twice
 * (`allowInsecure=0&allowInsecure=1`), an empty pin (`pcs=`), and control characters in the
 * name, the label or the server name.
 *
 * @throws {ProtocolError} saying what was expected and what came
 * @example parseShareLink("trojan://ann%3Asecret@vpn.example.org:8443?sni=vpn.example.org").user
 * // "ann"
 */
export function parseShareLink(text: string): ShareLink {
  const trimmed = text.trim();
  const match = /^trojan:\/\/([^@/?#]+)@([^/?#]+)\/?(\?[^#]*)?(#.*)?$/i.exec(trimmed);
  if (!match) {
    throw new ProtocolError("expected a link of the form trojan://NAME%3APASSWORD@host:port?…");
  }
  const [, userinfo, authority, query = "", fragment = ""] = match;
  const credential = decode(userinfo!, "the credential");
  const colon = credential.indexOf(":");
  if (colon <= 0) {
    throw new ProtocolError(
      "expected the credential NAME:PASSWORD before the @ (a SwiftProxy account)",
    );
  }
  const { host, port } = parseHostPort(authority!);
  if (!host) throw new ProtocolError(`expected a host before the port, got "${authority}"`);
  const params = new URLSearchParams(query.slice(1));
  const [security, type, allowInsecure, sni, pin] = SECURITY_PARAMETERS.map((names) =>
    single(params, names)
  );
  if ((security ?? "tls") !== "tls") {
    throw new ProtocolError(`expected security=tls, got "${security}"`);
  }
  if ((type ?? "tcp") !== "tcp") throw new ProtocolError(`expected type=tcp, got "${type}"`);
  const insecure = allowInsecure ?? "0";
  if (insecure !== "0" && insecure !== "false") {
    throw new ProtocolError(
      "the link turns certificate checks off (allowInsecure=1); ask for one that pins the " +
        "certificate (pcs=…)",
    );
  }
  if (pin === "") {
    throw new ProtocolError("expected a SHA-256 fingerprint after pcs=, got none (an empty pin)");
  }
  if (sni && !/^[^\s]+$/.test(refuseControl(sni, "the server name (sni)"))) {
    throw new ProtocolError(`expected a server name (sni) without spaces, got "${sni}"`);
  }
  return {
    user: refuseControl(credential.slice(0, colon), "the name"),
    password: credential.slice(colon + 1),
    host,
    port,
    sni: sni || host,
    ...(pin ? { pin: normalizePin(pin) } : {}),
    label: fragment ? refuseControl(decode(fragment.slice(1), "the label"), "the label") : host,
  };
}

function decode(text: string, what: string): string {
  try {
    return decodeURIComponent(text);
  } catch {
    throw new ProtocolError(`expected ${what} URL-encoded, got "${text}"`);
  }
}
