/**
 * What `user add`, `user passwd` and `user link` print for a user whose password is known at
 * that moment: the `trojan://` link, its QR code in the terminal and a new subscription URL.
 * The one place a password, link or token is shown: on the admin's own terminal, once.
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
import { issueSubscription } from "../share/subscription_token.ts";
import type { UserStore } from "../store/user_store.ts";

/** The options that say where links point. */
export interface ShareOptions {
  data: string;
  host?: string;
  port: number;
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
      "the server's public name or address for the link (default: the certificate's first " +
        "non-loopback name)",
    )
    .addOption(
      new Option("--port <port>", "the port clients connect to, as serve --listen has it")
        .argParser(integerArg(1, "8443")).default(8443),
    )
    .option("--cert <file>", "the certificate serve uses, when not the data directory's");
}

/** A user's link and, when one was issued, subscription URL. */
export interface Share {
  link: string;
  subscription: string | null;
  /** Whether the link pins a self-signed certificate. */
  pinned: boolean;
}

/**
 * The link for `name` and `password` and, with `issue`, a new subscription (revoking the old
 * one) and its URL. When no certificate or host can be found, prints how to give one instead,
 * issues nothing, and returns null.
 *
 * @throws the store's errors
 */
export async function shareOf(
  store: UserStore,
  name: string,
  password: string,
  options: ShareOptions,
  issue = true,
): Promise<Share | null> {
  // The certificate --acme issued, once there is one, is the one serve uses.
  const certPath = options.cert ?? servingPaths({ data: options.data, acme: [] }).cert;
  let pem: string;
  try {
    pem = await Deno.readTextFile(certPath);
  } catch (error) {
    console.error(
      `no link: cannot read the certificate ${certPath} (${(error as Error).message}); ` +
        "give the one serve uses with --cert",
    );
    return null;
  }
  let endpoint;
  try {
    endpoint = shareEndpoint(await certificateFacts(pem), options.port, options.host);
  } catch (error) {
    if (!(error instanceof NoPublicHost)) throw error;
    console.error(`no link: ${error.message}; then run "user link ${name} --new-password"`);
    return null;
  }
  const link = shareLink(name, password, endpoint);
  const subscription = issue
    ? subscriptionUrl(endpoint, await issueSubscription(store, name, password))
    : null;
  return { link, subscription, pinned: Boolean(endpoint.pin) };
}

/**
 * Prints the link for `name` and `password` and its QR code, and with `issue` (always, after
 * a new password) a new subscription, revoking the old one, and its URL: true. When no
 * certificate or host can be found, prints how to give one instead, issues nothing, and
 * returns false.
 *
 * @throws the store's errors
 * @example await printShare(store, "ann", password, options);
 */
export async function printShare(
  store: UserStore,
  name: string,
  password: string,
  options: ShareOptions,
  issue = true,
): Promise<boolean> {
  const share = await shareOf(store, name, password, options, issue);
  if (!share) return false;
  console.log(`link (holds the password; hand it over privately):\n${share.link}`);
  console.log(terminalQr(share.link));
  if (share.subscription) {
    console.log(`subscription (replaces any earlier one): ${share.subscription}`);
  } else {
    console.log("subscription: unchanged (its token is stored hashed; --rotate issues a new one)");
  }
  if (!share.pinned) console.log("the certificate is not self-signed: clients check it as usual");
  return true;
}
