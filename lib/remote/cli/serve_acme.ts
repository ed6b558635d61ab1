/**
 * `serve --acme`'s options and start: which certificate files serve (the one `--acme` issued
 * once there is one, else the self-signed pair), and the {@linkcode CertificateManager} that
 * issues and renews, swapping through serve's reload path. The manager (and `acme-client`,
 * about half of the remote's start-up) is loaded only when `--acme` is given, so every other
 * command starts without it.
 */
import { Command, InvalidArgumentError } from "commander";
import { hostPortArgLike } from "../../common/ops/cli.ts";
import type { Destination } from "../../protocol/address.ts";
import { acmePaths, savedPair } from "../acme/acme_files.ts";
import type { CertificateManager } from "../acme/certificate_manager.ts";
import { dataPaths } from "../store/data_dir.ts";

/** `--acme`'s options, as parsed. */
export interface AcmeServeOptions {
  data: string;
  cert?: string;
  key?: string;
  acme?: string[];
  acmeEmail?: string;
  acmeDirectory: string;
  acmeCa?: string;
  acmeHttp?: Destination;
}

/** Let's Encrypt's production directory, `--acme-directory`'s default. */
export const LETS_ENCRYPT = "https://acme-v02.api.letsencrypt.org/directory";

const NAME = /^(?=.{1,253}$)([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z][a-z0-9-]{0,61}[a-z0-9]$/;

const domainsArg = (text: string): string[] => {
  const names = text.split(",").map((name) => name.trim().toLowerCase()).filter(Boolean);
  const bad = names.find((name) => !NAME.test(name));
  if (names.length === 0 || bad !== undefined) {
    throw new InvalidArgumentError(
      `expected DNS names separated by commas, such as vpn.example.org, got "${bad ?? text}"`,
    );
  }
  return [...new Set(names)];
};

/** Adds `--acme` and its companions to `serve`. */
export function addAcmeOptions(command: Command): Command {
  return command
    .option(
      "--acme <names>",
      "get and renew a certificate for these DNS names (comma-separated) from an ACME CA",
      domainsArg,
    )
    .option("--acme-email <address>", "contact address for the ACME account (expiry notices)")
    .option("--acme-directory <url>", "the ACME server's directory URL", LETS_ENCRYPT)
    .option("--acme-ca <file>", "trust this CA (PEM) for the ACME server's own HTTPS")
    .option(
      "--acme-http <host:port>",
      "answer --acme's HTTP-01 challenges here (the CA asks on port 80)",
      hostPortArgLike("0.0.0.0:80"),
    );
}

/**
 * The pair that serves: `--cert`/`--key`, else `--acme`'s once issued, else the self-signed.
 *
 * @example servingPaths({ data, acme: ["vpn.example.org"] }).cert // ".../acme/cert.pem"
 */
export function servingPaths(
  options: Pick<AcmeServeOptions, "data" | "cert" | "key" | "acme">,
): { cert: string; key: string } {
  if (options.cert) return { cert: options.cert, key: options.key! };
  if (options.acme && savedPair(options.data)) return acmePaths(options.data);
  return dataPaths(options.data);
}

/**
 * Why `--acme` cannot start with these options, or undefined when it can (or is not asked).
 *
 * @example acmeOptionsProblem({ data, acme: ["vpn.example.org"], acmeDirectory }) // "--acme needs …"
 */
export function acmeOptionsProblem(options: AcmeServeOptions): string | undefined {
  if (!options.acme) return undefined;
  if (options.cert) return "--acme gets the certificate itself; give --acme or --cert, not both";
  if (!options.acmeHttp) {
    return "--acme needs --acme-http HOST:PORT (HTTP-01, which the CA checks on port 80, " +
      "e.g. --acme-http 0.0.0.0:80): this runtime cannot answer TLS-ALPN-01 on the tunnel " +
      "port (docs/INSTALL.md)";
  }
  return undefined;
}

/**
 * Starts `--acme` (if given); `reload` swaps in the saved pair.
 *
 * @throws {Error} for an unreadable `--acme-ca`, {@linkcode Deno.errors.AddrInUse} when
 *   `--acme-http`'s address is taken
 */
export async function startAcme(
  options: AcmeServeOptions,
  reload: () => Promise<unknown>,
): Promise<CertificateManager | undefined> {
  if (!options.acme || !options.acmeHttp) return undefined;
  const { CertificateManager } = await import("../acme/certificate_manager.ts");
  const manager = new CertificateManager(
    {
      domains: options.acme,
      data: options.data,
      directory: options.acmeDirectory,
      email: options.acmeEmail,
      ca: options.acmeCa ? Deno.readTextFileSync(options.acmeCa) : undefined,
      httpListen: options.acmeHttp,
    },
    reload,
  );
  manager.start();
  return manager;
}
