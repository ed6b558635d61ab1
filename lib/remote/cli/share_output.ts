/**
 * What `user add`, `user passwd` and `user link` print for a user: the `trojan://` link, its QR
 * code in the terminal and the subscription URL, pointing at the server's public address
 * (`init --public`, or what `serve` guessed, said as a guess). The one place a password, link or
 * token is shown: on the admin's own terminal. What reprinting takes is kept sealed in the data
 * directory ({@linkcode LinkVault}).
 */
import { Command, Option } from "commander";
import { integerArg } from "../../common/ops/cli.ts";
import { servingPaths } from "./serve_acme.ts";
import {
  certificateFacts,
  NoPublicHost,
  shareEndpoint,
  shareLink,
  subscriptionUrl,
  terminalQr,
} from "../share/share.ts";
import type { CertificateFacts } from "../share/share.ts";
import {
  describePublicAddress,
  guessPublicAddress,
  readPublicAddress,
} from "../share/public_address.ts";
import type { PublicAddress } from "../share/public_address.ts";
import { REMOTE_DEFAULTS } from "../tunnel/config.ts";
import { issueSubscription } from "../share/subscription_token.ts";
import { LinkVault } from "../share/link_vault.ts";
import type { KeptLink } from "../share/link_vault.ts";
import type { UserStore } from "../store/user_store.ts";

/** The options that say where links point. */
export interface ShareOptions {
  data: string;
  host?: string;
  port?: number;
  cert?: string;
}

/**
 * Adds `--host`, `--port` and `--cert` (where links point, and the certificate they pin).
 *
 * @example addShareOptions(user.command("add"));
 */
export function addShareOptions(command: Command): Command {
  return command
    .option(
      "--host <name>",
      "the server's public name or address for this link (default: the data directory's public " +
        "address, set with init --public)",
    )
    .addOption(
      new Option("--port <port>", "the port clients connect to, for this link (default: as --host)")
        .argParser(integerArg(1, "8443")),
    )
    .option("--cert <file>", "the certificate serve uses, when not the data directory's");
}

/**
 * Where links point: `--host`/`--port` over the data directory's public address over a guess
 * from the certificate and serve's default port. Undefined when nothing names a host.
 */
function linkAddress(options: ShareOptions, facts: CertificateFacts): PublicAddress | undefined {
  const base = readPublicAddress(options.data) ??
    guessPublicAddress(REMOTE_DEFAULTS.listen, facts.names);
  const host = options.host ?? base?.host;
  if (!host) return undefined;
  const both = options.host !== undefined && options.port !== undefined;
  return {
    host,
    port: options.port ?? base?.port ?? REMOTE_DEFAULTS.listen.port,
    guessed: !both && (base?.guessed ?? true),
  };
}

/** How {@linkcode printShare} treats the subscription. */
export type SubscriptionChoice =
  /** Issue a new one, revoking the old (always after a new password). */
  | { issue: true }
  /** Print this token's URL, or say it is unchanged when none is known. */
  | { issue: false; token?: string };

/** A user's link and subscription URL, as {@linkcode shareOf} makes them. */
export interface Share {
  link: string;
  /** The subscription URL, when one was issued or its token is known. */
  subscription: string | null;
  /** Whether the link pins a self-signed certificate. */
  pinned: boolean;
  /** The pin (hex SHA-256 of the self-signed certificate), when pinned. */
  pin?: string;
  /** Where the link points. */
  address: PublicAddress;
}

/**
 * The link for `name` and `password` and the subscription URL (a new one when
 * `subscription.issue`, revoking the old), kept in the data directory so `user link NAME`
 * prints them again. When no certificate or host can be found, prints how to give one instead,
 * issues nothing, and returns null.
 *
 * @throws the store's errors
 * @example const share = await shareOf(store, "ann", password, options);
 */
export async function shareOf(
  store: UserStore,
  name: string,
  password: string,
  options: ShareOptions,
  subscription: SubscriptionChoice = { issue: true },
): Promise<Share | null> {
  // The certificate --acme issued, once there is one, is the one serve uses.
  const certPath = options.cert ?? servingPaths({ data: options.data, acme: [] }).cert;
  let facts: CertificateFacts;
  try {
    facts = certificateFacts(await Deno.readTextFile(certPath));
  } catch (error) {
    console.error(
      `no link: cannot read the certificate ${certPath} (${(error as Error).message}); ` +
        "give the one serve uses with --cert",
    );
    return null;
  }
  const address = linkAddress(options, facts);
  let endpoint;
  try {
    endpoint = shareEndpoint(facts, address?.port ?? 0, address?.host);
  } catch (error) {
    if (!(error instanceof NoPublicHost)) throw error;
    console.error(`no link: ${error.message}; then run "user link ${name}"`);
    return null;
  }
  const link = shareLink(name, password, endpoint);
  const token = subscription.issue
    ? await issueSubscription(store, name, password)
    : subscription.token;
  await keep(options.data, name, { password, ...(token ? { token } : {}) });
  return {
    link,
    subscription: token ? subscriptionUrl(endpoint, token) : null,
    pinned: Boolean(endpoint.pin),
    ...(endpoint.pin ? { pin: endpoint.pin } : {}),
    address: address!,
  };
}

/**
 * Prints the link for `name` and `password` and its QR code, and the subscription URL (a new
 * one when `subscription.issue`, revoking the old), and keeps what reprinting takes: true.
 * When no certificate or host can be found, prints how to give one instead, issues nothing,
 * and returns false.
 *
 * @throws the store's errors
 * @example await printShare(store, "ann", password, options);
 */
export async function printShare(
  store: UserStore,
  name: string,
  password: string,
  options: ShareOptions,
  subscription: SubscriptionChoice = { issue: true },
): Promise<boolean> {
  const share = await shareOf(store, name, password, options, subscription);
  if (!share) return false;
  console.log(`link (holds the password; hand it over privately):\n${share.link}`);
  console.log(terminalQr(share.link));
  if (share.subscription) {
    const label = subscription.issue ? "subscription (replaces any earlier one)" : "subscription";
    console.log(`${label}: ${share.subscription}`);
    // The local checks the certificate of the URL it fetches: the pin rides in the fragment.
    const pin = share.pin ? `#pcs=${share.pin}` : "";
    console.log(`for swiftproxy-local --sub: ${share.subscription}${pin}`);
  } else {
    console.log("subscription: unchanged (not kept here; --rotate issues a new one)");
  }
  if (!share.pinned) console.log("the certificate is not self-signed: clients check it as usual");
  console.log(describePublicAddress(share.address, "swiftproxy-remote init --public"));
  return true;
}

/**
 * Keeps a password chosen by the admin (not printed) with a new subscription, so `user link
 * NAME` prints both later without the password.
 *
 * @example await keepChosen(store, options, "ann", password);
 */
export async function keepChosen(
  store: UserStore,
  options: ShareOptions,
  name: string,
  password: string,
): Promise<void> {
  const token = await issueSubscription(store, name, password);
  await keep(options.data, name, { password, token });
}

/** Keeps `link` for `name` in `dir`; a directory this user cannot write only loses the reprint. */
async function keep(dir: string, name: string, link: KeptLink): Promise<void> {
  try {
    await new LinkVault(dir).keep(name, link);
  } catch (error) {
    console.error(
      `cannot keep the link in ${dir} (${(error as Error).message}): "user link ${name}" will ` +
        "need the password (run as the user serve runs as to keep it)",
    );
  }
}
