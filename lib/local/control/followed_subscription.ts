/**
 * The subscription the local follows: `--sub URL`, the settings file's `sub`, or one pasted in
 * the dashboard and connected. Following it means its rules are in force (unless the user's own
 * `--rules` are) and it is fetched again on its `profile-update-interval`; connecting with a
 * plain `trojan://` link stops following it and turns its rules off.
 */
import { logger } from "../../common/ops/logging.ts";
import type { LocalRules } from "./local_rules.ts";
import { SubscriptionRefresh, takeSubscription } from "./subscription.ts";
import type { TakenSubscription } from "./subscription.ts";
import { parseSubscriptionUrl } from "../tunnel/subscription_fetch.ts";

const log = logger("local", "subscription");

/** How long after a failed first fetch the subscription is fetched again. */
export const RETRY_MS = 5 * 60_000;

/**
 * The followed subscription and the rules it brings.
 *
 * @example
 * const followed = new FollowedSubscription(rules, false, stateDir, 10_000);
 * await followed.take(url); // the dashboard's paste: fills the form
 * await followed.follow(url); // Connect: its rules in force, refreshed on its interval
 */
export class FollowedSubscription {
  /**
   * Called with the new `trojan://` link when a refresh brings one (a new password, another
   * address), to connect with it.
   */
  relink: (linkText: string) => Promise<void> | void = () => {};
  #refresh: SubscriptionRefresh | null = null;
  /** The URL followed ("" none). */
  #text = "";
  /** The next try of a URL whose first fetch failed. */
  #retry: ReturnType<typeof setTimeout> | undefined;
  /** The last paste since the last {@linkcode follow}: a URL and what it gave, or "" a link. */
  #pasted: { text: string; taken: TakenSubscription | null } | null = null;

  /**
   * @param rules the rules the subscription's are put in force in
   * @param ownRules the user gave rules (`--rules`): those win, the subscription's are not loaded
   */
  constructor(
    readonly rules: LocalRules,
    readonly ownRules: boolean,
    readonly stateDir: string,
    readonly timeoutMs: number,
  ) {}

  /** The refresh of the subscription followed, or null. */
  get refresh(): SubscriptionRefresh | null {
    return this.#refresh;
  }

  /**
   * What the last paste asks the next Connect to follow: a subscription URL, "" for none (a
   * plain link was pasted), undefined when nothing was pasted since.
   */
  get pasted(): string | undefined {
    return this.#pasted?.text;
  }

  /**
   * Fetches and takes the subscription at `text` (its rules written, not yet in force), kept
   * for the {@linkcode follow} that comes next (the dashboard's Connect, the start).
   *
   * @throws {Error} saying why (see `takeSubscription`)
   */
  async take(text: string): Promise<TakenSubscription> {
    const taken = await takeSubscription(text, this.stateDir, this.timeoutMs);
    this.#pasted = { text, taken };
    return taken;
  }

  /** A plain link was pasted: the next Connect follows no subscription. */
  pastedLink(): void {
    this.#pasted = { text: "", taken: null };
  }

  /**
   * Follows the subscription at `text` (empty: none): the one followed before stops, its
   * rules are loaded (or, with none, turned off), and it is fetched again on its interval. The
   * URL already followed with nothing new pasted: nothing changes. Never throws: a fetch that
   * fails keeps the rules in force, and the log says why.
   *
   * @param load false: the rules were loaded already (the start)
   */
  async follow(text: string | undefined, load = true): Promise<void> {
    text ??= "";
    const pasted = this.#pasted?.text === text ? this.#pasted.taken : null;
    this.#pasted = null;
    if (!pasted && text === this.#text) return;
    let taken = pasted;
    if (text && !taken) {
      try {
        taken = await takeSubscription(text, this.stateDir, this.timeoutMs);
      } catch (error) {
        log.warn("subscription not fetched, the rules in force stay: {error}", {
          error: (error as Error).message,
        });
        this.retryLater(text);
        return;
      }
    }
    this.#stop();
    this.#text = text;
    if (taken) {
      const refresh = new SubscriptionRefresh(
        parseSubscriptionUrl(text),
        this.stateDir,
        taken,
        this.timeoutMs,
      );
      refresh.changed = async (next, before, rulesChanged) => {
        // Loaded again, as on SIGHUP (rules it no longer carries: none).
        if (rulesChanged && !this.ownRules) {
          await this.rules.reload({ file: next.rulesPath ?? undefined });
        }
        if (next.linkText !== before.linkText) await this.relink(next.linkText);
      };
      refresh.start();
      this.#refresh = refresh;
    }
    if (load && !this.ownRules) await this.rules.reload({ file: taken?.rulesPath ?? undefined });
  }

  /**
   * The fetch of `text` failed (at start: the rules kept from its last fetch are in force):
   * it is followed, and fetched again in {@linkcode RETRY_MS} until a fetch works or another
   * subscription (or none) is followed.
   */
  retryLater(text: string): void {
    this.#stop();
    this.#text = text;
    this.#retry = setTimeout(() => void this.#retrying(text), RETRY_MS);
    Deno.unrefTimer(this.#retry);
  }

  async #retrying(text: string): Promise<void> {
    let taken: TakenSubscription;
    try {
      taken = await takeSubscription(text, this.stateDir, this.timeoutMs);
    } catch (error) {
      log.warn("subscription not fetched, the rules in force stay: {error}", {
        error: (error as Error).message,
      });
      if (this.#text === text) this.retryLater(text);
      return;
    }
    // Another subscription (or none) followed meanwhile: this answer is not wanted.
    if (this.#text !== text) return;
    this.#pasted = { text, taken };
    await this.follow(text);
    // Fetched at last: its link may be newer than the one connected.
    await this.relink(taken.linkText);
  }

  /** Stops fetching. */
  stop(): void {
    this.#stop();
  }

  #stop(): void {
    clearTimeout(this.#retry);
    this.#retry = undefined;
    this.#refresh?.stop();
    this.#refresh = null;
  }
}
