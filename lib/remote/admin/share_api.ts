/**
 * What the panel hands over for a user: the password, the `trojan://` link, its QR code (SVG,
 * from the same generator as the terminal's) and a new subscription URL, pointing at the
 * server's public address. `POST /api/users/NAME/link` issues a new password for it; adding a
 * user answers it for the password just set.
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
import type { ShareEndpoint } from "../share/share.ts";
import { issueSubscription } from "../share/subscription_token.ts";
import { currentLink } from "../share/link_vault.ts";
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
  const endpoint = endpointOf(server, host);
  const password = generatePassword();
  await deps.store.setPassword(name, password);
  log.info("admin: new password, link and subscription for {user}", { user: name });
  return await handOver(deps, server, name, password, endpoint);
}

/**
 * `GET /api/users/NAME/link`: the user's current link and subscription URL as kept when they
 * were issued (here or by the CLI on this data directory), without a new password.
 *
 * @throws {ApiError} 404 for an unknown user or when no current link is kept
 */
export async function keptShare(
  deps: ApiDeps,
  server: RemoteServer,
  name: string,
): Promise<ShareAnswer> {
  const account = deps.accounts.byName(name);
  if (!account) throw new ApiError(404, `no user named "${name}"`);
  const vault = server.linkVault;
  const kept = vault && await currentLink(vault, deps.store, account.user);
  if (!kept?.token) {
    throw new ApiError(404, `no current link kept for ${name}: issue a new one`);
  }
  const endpoint = endpointOf(server);
  const link = shareLink(name, kept.password, endpoint);
  return {
    password: kept.password,
    link,
    qr: svgQr(link),
    subscription: subscriptionUrl(endpoint, kept.token),
  };
}

/** Where links point: the server's public address, `host` instead of its name when given. */
function endpointOf(server: RemoteServer, host?: string): ShareEndpoint {
  const address = server.publicAddress;
  try {
    return shareEndpoint(
      certificateFacts(server.certificate),
      address?.port ?? server.addr.port,
      host ?? address?.host,
    );
  } catch (error) {
    if (error instanceof NoPublicHost) {
      throw new ApiError(400, "the certificate names no public host: enter the server's name");
    }
    throw error;
  }
}

/**
 * The hand-over for `name`, whose password `password` was just set: a new subscription (kept
 * with the password in the server's link vault, as the CLI keeps it) and the link.
 *
 * @throws {ApiError} 400 when there is no host for the link
 */
export async function handOver(
  deps: ApiDeps,
  server: RemoteServer,
  name: string,
  password: string,
  endpoint?: ShareEndpoint,
): Promise<ShareAnswer> {
  const where = endpoint ?? endpointOf(server);
  const token = await issueSubscription(deps.store, name, password);
  await server.linkVault?.keep(name, { password, token }).catch((error) => {
    log.warn("cannot keep the link of {user} for user link: {error}", { user: name, error });
  });
  await deps.accounts.reload();
  const link = shareLink(name, password, where);
  return { password, link, qr: svgQr(link), subscription: subscriptionUrl(where, token) };
}
