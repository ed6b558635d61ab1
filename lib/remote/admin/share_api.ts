/**
 * `POST /api/users/NAME/link`: a new password for the user and, with it, the `trojan://` link,
 * its QR code (SVG, from the same generator as the terminal's) and a new subscription URL.
 * The store keeps only a hash of the password, so showing a link means issuing a new one.
 */
import { generatePassword } from "../users/password.ts";
import type { RemoteServer } from "../tunnel/server.ts";
import {
  certificateFacts,
  NoPublicHost,
  shareEndpoint,
  shareLink,
  subscriptionUrl,
  svgQr,
} from "../share/share.ts";
import { issueSubscription } from "../share/subscription_token.ts";
import { logger } from "../../common/ops/logging.ts";
import { ApiError } from "./api.ts";
import type { ApiDeps } from "./api.ts";

const log = logger("remote", "admin");

/** What the page shows once: the password, the link, its QR code and the subscription URL. */
export interface ShareAnswer {
  password: string;
  link: string;
  /** An SVG document. */
  qr: string;
  subscription: string;
}

/**
 * Sets a new password for `name` and answers with what to hand over. `body.host` names the
 * server's public host when the certificate does not.
 *
 * @throws {ApiError} 404 for an unknown user, 400 when there is no host for the link
 * @example const answer = await shareUser(deps, server, "ann", { host: "vpn.example.org" });
 */
export async function shareUser(
  deps: ApiDeps,
  server: RemoteServer,
  name: string,
  body: Record<string, unknown>,
): Promise<ShareAnswer> {
  if (!deps.accounts.byName(name)) throw new ApiError(404, `no user named "${name}"`);
  const host = typeof body.host === "string" && body.host.trim() ? body.host.trim() : undefined;
  if (host && !/^[A-Za-z0-9.:-]{1,253}$/.test(host)) {
    throw new ApiError(400, `host: expected a name or an IP address, got "${host}"`);
  }
  let endpoint;
  try {
    endpoint = shareEndpoint(await certificateFacts(server.certificate), server.addr.port, host);
  } catch (error) {
    if (error instanceof NoPublicHost) {
      throw new ApiError(400, "the certificate names no public host: enter the server's name");
    }
    throw error;
  }
  const password = generatePassword();
  await deps.store.setPassword(name, password);
  const token = await issueSubscription(deps.store, name, password);
  await deps.accounts.reload();
  log.info("admin: new password, link and subscription for {user}", { user: name });
  const link = shareLink(name, password, endpoint);
  return { password, link, qr: svgQr(link), subscription: subscriptionUrl(endpoint, token) };
}
