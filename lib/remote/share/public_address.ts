/**
 * The server's public address: the `HOST:PORT` every link and subscription carries. Set with
 * `init --public` or `serve --public`; otherwise the first `serve` guesses it from its listen
 * address and certificate names, and marks it as a guess. Kept in the data directory
 * (`public.json`), so `user add` on the same machine prints what `serve` serves.
 */
import { join } from "node:path";
import { formatHostPort } from "../../protocol/address.ts";
import type { Destination } from "../../protocol/address.ts";
import { publicName } from "./share.ts";

/** Where links point, and whether someone said so or it was guessed. */
export interface PublicAddress extends Destination {
  /** True when guessed from a listen address and the certificate, not given. */
  guessed: boolean;
}

/** The file in the data directory. */
export function publicAddressPath(dir: string): string {
  return join(dir, "public.json");
}

/**
 * The address kept in `dir`, or undefined when there is none (or the file is unreadable).
 *
 * @example const address = readPublicAddress("./swiftproxy-data");
 */
export function readPublicAddress(dir: string): PublicAddress | undefined {
  try {
    const kept = JSON.parse(Deno.readTextFileSync(publicAddressPath(dir)));
    if (
      typeof kept?.host === "string" && kept.host !== "" && Number.isInteger(kept.port) &&
      kept.port > 0 && kept.port < 65536
    ) {
      return { host: kept.host, port: kept.port, guessed: kept.guessed === true };
    }
  } catch {
    // none yet, or damaged: as if none (serve guesses again, init --public sets it)
  }
  return undefined;
}

/**
 * Keeps `address` in `dir` (written whole: a temporary file renamed over the old).
 *
 * @throws {Deno.errors.PermissionDenied} and the like when `dir` is not writable
 */
export function writePublicAddress(dir: string, address: PublicAddress): void {
  const path = publicAddressPath(dir);
  const temp = `${path}.tmp`;
  Deno.writeTextFileSync(temp, JSON.stringify(address) + "\n", { mode: 0o644 });
  Deno.renameSync(temp, path);
}

const WILDCARD = new Set(["", "0.0.0.0", "::", "[::]"]);

/**
 * A guess at the public address of a server listening on `listen` with certificate names
 * `names`: a specific listen address is the only one clients can reach; on a wildcard, the
 * certificate's public name. Undefined when the certificate names nothing but loopback.
 *
 * @example guessPublicAddress({ host: "127.0.0.1", port: 35443 }, names) // 127.0.0.1:35443
 */
export function guessPublicAddress(
  listen: Destination,
  names: string[],
): PublicAddress | undefined {
  const host = WILDCARD.has(listen.host) ? publicName(names) : listen.host;
  return host ? { host, port: listen.port, guessed: true } : undefined;
}

/**
 * One line saying where links point, and for a guess how to set the real address.
 *
 * @example console.log(describePublicAddress(address, "swiftproxy-remote init --public"));
 */
export function describePublicAddress(address: PublicAddress, setWith: string): string {
  const where = formatHostPort(address);
  return address.guessed
    ? `links and subscriptions point to ${where}, a GUESS (from the listen address and the ` +
      `certificate); if clients reach the server elsewhere: ${setWith} HOST:PORT`
    : `links and subscriptions point to ${where}`;
}
