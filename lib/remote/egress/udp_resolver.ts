/**
 * Where a UDP association's datagrams may go: the destination guard of `destination.ts`
 * applied to every datagram, with the names it resolves kept for a while, since a game or a
 * voice call sends hundreds of datagrams a second to the same name.
 */
import { isIPv4, isIPv6 } from "../../protocol/address.ts";
import type { Destination } from "../../protocol/address.ts";
import { allowedAddresses, blockedError, DialError, isAllowed } from "./destination.ts";
import type { DestinationPolicy, LabelledBlockList } from "./destination.ts";

/** How long a resolved name (or a refusal) is kept. */
const TTL_MS = 30_000;
/** Names kept at once per association; the oldest goes first. */
const MAX_NAMES = 64;
const NO_LISTS: readonly LabelledBlockList[] = [];

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
  /** The last IP literal checked (with its port, when block lists are on), and the answer. */
  #literal = "";
  #literalPort = 0;
  #allowed = false;
  /** The block list that refused the last literal, if one did. */
  #blockedBy = "";
  /** The block lists the cached answers were checked against. */
  #lists: readonly LabelledBlockList[] = NO_LISTS;

  constructor(policy: DestinationPolicy) {
    this.#policy = { ...policy, network: "udp" };
    this.#lists = policy.blocks?.() ?? NO_LISTS;
  }

  /**
   * The address to send to: an IP literal as it is, a name through the cache.
   *
   * @throws {DialError} "not-allowed" when the policy refuses the address (every address, for a
   *   name), "unresolved" when the name does not resolve
   */
  resolve(destination: Destination): Promise<string> | string {
    const { host, port } = destination;
    const lists = this.#policy.blocks?.() ?? NO_LISTS;
    if (lists !== this.#lists) {
      // A user's block list changed: what was checked against the old one is checked again.
      this.#lists = lists;
      this.#literal = "";
      this.#names.clear();
    }
    // Without block lists the answer does not depend on the port (nor is it kept by port).
    const byPort = lists.length > 0;
    if (host === this.#literal && (!byPort || port === this.#literalPort)) {
      return this.#checked(destination);
    }
    if (isIPv4(host) || isIPv6(host)) {
      // The same literal (and port) gets the same answer until the lists change.
      this.#literal = host;
      this.#literalPort = port;
      this.#allowed = isAllowed(host, this.#policy);
      this.#blockedBy = "";
      for (const { reason, list } of lists) {
        if (!this.#allowed) break;
        if (list.blocksAddress(host, null, port, "udp")) {
          this.#allowed = false;
          this.#blockedBy = reason;
        }
      }
      return this.#checked(destination);
    }
    const key = byPort ? `${port} ${host}` : host;
    const now = Date.now();
    const known = this.#names.get(key);
    if (known && known.expires > now) return known.answer;
    this.#names.delete(key);
    if (this.#names.size >= MAX_NAMES) this.#names.delete(this.#names.keys().next().value!);
    const answer = allowedAddresses(destination, this.#policy).then((ips) => ips[0]!); // never empty: it refuses instead
    answer.catch(() => {}); // a refusal is cached too; whoever awaits it sees it
    this.#names.set(key, { answer, expires: now + TTL_MS });
    return answer;
  }

  #checked(destination: Destination): string {
    if (this.#allowed) return destination.host;
    if (this.#blockedBy) throw blockedError(destination, this.#blockedBy);
    throw new DialError(
      `${destination.host} is in a range this server does not serve`,
      "not-allowed",
    );
  }
}
