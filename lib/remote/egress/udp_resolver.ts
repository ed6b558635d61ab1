/**
 * Where a UDP association's datagrams may go: the destination guard of `destination.ts`
 * applied to every datagram, with the names it resolves kept for a while, since a game or a
 * voice call sends hundreds of datagrams a second to the same name.
 */
import { isIPv4, isIPv6 } from "../../protocol/address.ts";
import type { Destination } from "../../protocol/address.ts";
import { allowedAddresses, DialError, isAllowed } from "./destination.ts";
import type { DestinationPolicy } from "./destination.ts";

/** How long a resolved name (or a refusal) is kept. */
const TTL_MS = 30_000;
/** Names kept at once per association; the oldest goes first. */
const MAX_NAMES = 64;

interface Entry {
  /** The first allowed address, or the refusal. */
  answer: Promise<string>;
  expires: number;
}

/**
 * Turns a datagram's destination into the address to send it to, or refuses it.
 *
 * @example
 * const resolver = new UdpResolver(policy);
 * const ip = await resolver.resolve({ host: "localhost", port: 53 }); // "127.0.0.1" or "::1"
 */
export class UdpResolver {
  readonly #policy: DestinationPolicy;
  readonly #names = new Map<string, Entry>();
  /** The last IP literal checked, and whether the policy allows it. */
  #literal = "";
  #allowed = false;

  constructor(policy: DestinationPolicy) {
    this.#policy = policy;
  }

  /**
   * The address to send to: an IP literal as it is, a name through the cache.
   *
   * @throws {DialError} "not-allowed" when the policy refuses the address (every address, for a
   *   name), "unresolved" when the name does not resolve
   */
  resolve(destination: Destination): Promise<string> | string {
    const { host } = destination;
    if (host === this.#literal) return this.#checked(host);
    if (isIPv4(host) || isIPv6(host)) {
      // The policy is fixed for the server's life: the same literal gets the same answer.
      this.#literal = host;
      this.#allowed = isAllowed(host, this.#policy);
      return this.#checked(host);
    }
    const now = Date.now();
    const known = this.#names.get(host);
    if (known && known.expires > now) return known.answer;
    this.#names.delete(host);
    if (this.#names.size >= MAX_NAMES) this.#names.delete(this.#names.keys().next().value!);
    const answer = allowedAddresses(destination, this.#policy).then((ips) => ips[0]);
    answer.catch(() => {}); // a refusal is cached too; whoever awaits it sees it
    this.#names.set(host, { answer, expires: now + TTL_MS });
    return answer;
  }

  #checked(ip: string): string {
    if (this.#allowed) return ip;
    throw new DialError(`${ip} is in a range this server does not serve`, "not-allowed");
  }
}
