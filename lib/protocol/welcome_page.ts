/**
 * The welcome destination: `http://welcome.swiftproxy.invalid/` (port 80) is answered by a
 * SwiftProxy remote itself with a small page naming the user, the remote's version and the
 * account's usage, so a user can check in a browser that traffic really goes through the
 * proxy. Like the status destination (`account_status.ts`), `.invalid` never resolves
 * (RFC 2606), and browsers and PAC files send it to the proxy, not direct.
 */
import type { Destination } from "./address.ts";

export const WELCOME_HOST = "welcome.swiftproxy.invalid";
export const WELCOME_PORT = 80;
/** The page's address, as a user types it. */
export const WELCOME_URL = `http://${WELCOME_HOST}/`;

/**
 * Whether `destination` is the welcome page.
 *
 * @example isWelcomeDestination({ host: "welcome.swiftproxy.invalid", port: 80 }) // true
 */
export function isWelcomeDestination(destination: Destination): boolean {
  return destination.host.toLowerCase() === WELCOME_HOST && destination.port === WELCOME_PORT;
}
