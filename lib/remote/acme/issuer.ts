/**
 * One issuance through `acme-client`: the account (created once, its key kept in the data
 * directory), an order for the names, one HTTP-01 challenge per name answered through
 * {@linkcode Challenges}, and the chain with a new key. Each step is one log line.
 *
 * Why HTTP-01 only, not TLS-ALPN-01 on the tunnel port: Deno 2.9.6's TLS server (here through
 * `node:tls`) stalls the handshake when the certificate it is given carries a critical
 * extension it does not know, and RFC 8737's acmeIdentifier must be critical (pebble and
 * Let's Encrypt refuse it otherwise). `node:tls`'s ALPNCallback and `setKeyCert` work, so the
 * challenge could be routed; the certificate cannot be served. docs/INSTALL.md says more.
 */
import acme from "acme-client";
import https from "node:https";
import { logger } from "../../common/ops/logging.ts";
import type { Challenges } from "./challenges.ts";
import { acmePaths, readIfThere, writeWhole } from "./acme_files.ts";

const log = logger("remote", "acme");

/** What an issuance needs. */
export interface IssuerOptions {
  /** The names on the certificate (`--acme`), the first one its subject. */
  domains: string[];
  /** The data directory: the account key lives in `acme/account.key`. */
  data: string;
  /** The ACME directory URL (`--acme-directory`). */
  directory: string;
  /** `--acme-email`: the account's contact, for the CA's expiry warnings. */
  email?: string;
  /** `--acme-ca`: PEM roots to trust for the ACME server's own HTTPS, instead of the usual. */
  ca?: string;
  /** Shortest wait between polls of a pending order (1 s). */
  pollMs?: number;
}

/** The account's URL at `directory`, saved after the first issuance there. */
function accountUrl(data: string, directory: string): string | undefined {
  try {
    const saved = JSON.parse(readIfThere(acmePaths(data).accountUrl) ?? "{}");
    return saved.directory === directory && typeof saved.url === "string" ? saved.url : undefined;
  } catch {
    return undefined;
  }
}

/** The account key, made and saved (0600) the first time. */
async function accountKey(data: string): Promise<string> {
  const path = acmePaths(data).account;
  const saved = readIfThere(path);
  if (saved) return saved;
  const key = (await acme.crypto.createPrivateEcdsaKey()).toString();
  writeWhole(path, key, 0o600);
  log.info("made an ACME account key: {path}", { path });
  return key;
}

/**
 * Obtains a certificate for `options.domains`, answering the challenges through `challenges`.
 *
 * @returns the chain and its new private key, PEM
 * @throws {Error} as the CA or the network said; {@linkcode failureHint} says what to check
 * @example const pair = await issueCertificate(options, challenges);
 */
export async function issueCertificate(
  options: IssuerOptions,
  challenges: Challenges,
): Promise<{ cert: string; key: string }> {
  if (options.ca) acme.axios.defaults.httpsAgent = new https.Agent({ ca: options.ca });
  // Without the URL, acme-client looks the account up with an empty update, which some CAs
  // (pebble) refuse: the second issuance would fail.
  const known = accountUrl(options.data, options.directory);
  const client = new acme.Client({
    directoryUrl: options.directory,
    accountKey: await accountKey(options.data),
    ...(known ? { accountUrl: known } : {}),
    backoffMin: options.pollMs ?? 1000,
    backoffMax: 10_000,
  });
  const [key, csr] = await acme.crypto.createCsr(
    { altNames: options.domains },
    await acme.crypto.createPrivateEcdsaKey(),
  );
  log.info("ordering a certificate for {names} from {directory}", {
    names: options.domains.join(", "),
    directory: options.directory,
  });
  const cert = await client.auto({
    csr,
    email: options.email,
    termsOfServiceAgreed: true,
    // Its own check would resolve the names and connect out: the CA's check is the one to pass.
    skipChallengeVerification: true,
    challengePriority: ["http-01"],
    challengeCreateFn: (authz, challenge, keyAuthorization) => {
      challenges.addHttp(challenge.token, keyAuthorization);
      log.info("answering the HTTP-01 challenge for {name}", { name: authz.identifier.value });
      return Promise.resolve();
    },
    challengeRemoveFn: (_authz, challenge) => {
      challenges.removeHttp(challenge.token);
      return Promise.resolve();
    },
  });
  if (!known) {
    const url = client.getAccountUrl();
    writeWhole(
      acmePaths(options.data).accountUrl,
      JSON.stringify({ directory: options.directory, url }),
      0o600,
    );
  }
  return { cert, key: key.toString() };
}
