/** Helpers for the share-link tests: what `user link` printed, and HTTPS requests to a remote. */
import { delay, sha256 } from "../_harness.ts";
import type { RemoteFixture } from "../_harness.ts";
import type { InProcessRemote } from "../_inprocess.ts";

/** Hex SHA-256 of the DER inside a PEM certificate, as `openssl x509 -fingerprint` gives it. */
export async function pemSha256(pem: string): Promise<string> {
  const base64 = pem.replace(/-----[^-]+-----/g, "").replace(/\s+/g, "");
  return await sha256(Uint8Array.from(atob(base64), (c) => c.charCodeAt(0)));
}

/**
 * Base64 SHA-256 of the public key in a PEM certificate file, computed as sing-box's docs say
 * (`certificate_public_key_sha256`) and as Chromium's `--ignore-certificate-errors-spki-list`
 * takes it.
 */
export async function spkiSha256(certPath: string): Promise<string> {
  const out = await new Deno.Command("sh", {
    args: [
      "-c",
      `openssl x509 -in '${certPath}' -pubkey -noout | openssl pkey -pubin -outform der` +
      " | openssl dgst -sha256 -binary | openssl enc -base64",
    ],
  }).output();
  return new TextDecoder().decode(out.stdout).trim();
}

/** The link and subscription URL that `user add`/`passwd`/`link` printed. */
export interface Printed {
  link: string;
  subscription?: string;
  /** The subscription URL for `swiftproxy-local --sub`, the pin in its fragment. */
  localSubscription?: string;
}

/** Reads the link and the subscription URL out of a `user …` command's output. */
export function printedShare(stdout: string): Printed {
  const link = /^trojan:\/\/\S+$/m.exec(stdout)?.[0];
  if (!link) throw new Error(`no link in the output:\n${stdout}`);
  const subscription = /^subscription[^:]*: (https:\/\/\S+)$/m.exec(stdout)?.[1];
  const localSubscription = /^for swiftproxy-local --sub: (https:\/\/\S+)$/m.exec(stdout)?.[1];
  return { link, subscription, ...(localSubscription ? { localSubscription } : {}) };
}

/** The arguments of `user link NAME --new-password --host 127.0.0.1`, then `extra`. */
function newLinkArgs(name: string, ...extra: string[]): string[] {
  return ["link", name, "--new-password", "--host", "127.0.0.1", ...extra];
}

/** Runs `user link NAME --new-password` for the fixture's own address; the server has it when this returns. */
export async function newLink(remote: RemoteFixture, name: string): Promise<Printed> {
  const printed = printedShare(
    await remote.user(...newLinkArgs(name, "--port", String(remote.port))),
  );
  // The running server takes the new password up within a second (it polls the users table).
  await delay(1_000);
  return printed;
}

/** `GET url` over HTTPS trusting the remote's certificate: status, headers and body. */
export async function fetchFrom(
  remote: RemoteFixture,
  url: string,
  headers: Record<string, string> = {},
): Promise<{ status: number; headers: Headers; body: string }> {
  const client = Deno.createHttpClient({
    caCerts: [await Deno.readTextFile(remote.certPath)],
    http2: false,
  });
  try {
    const response = await fetch(url, { client, headers });
    return { status: response.status, headers: response.headers, body: await response.text() };
  } finally {
    client.close();
  }
}

/**
 * Runs `user link NAME --new-password` on an in-process remote (which has the change at once):
 * the credential `NAME:PASSWORD` and the subscription token it printed.
 */
export async function inProcessLink(
  remote: InProcessRemote,
  name: string,
): Promise<{ credential: string; token: string }> {
  const printed = printedShare(
    await remote.user(...newLinkArgs(name, "--cert", remote.certPath)),
  );
  const password = /^trojan:\/\/[^%]+%3A([^@]+)@/.exec(printed.link)![1]!;
  return {
    credential: `${name}:${decodeURIComponent(password)}`,
    token: /\/sub\/([A-Za-z0-9_-]{43})$/.exec(printed.subscription!)![1]!,
  };
}
