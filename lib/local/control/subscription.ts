/**
 * `swiftproxy-local --sub URL` and the dashboard's paste: a SwiftProxy subscription taken in
 * one step (the link: remote, user, password, pin; the admin's client rules; the update
 * interval), then fetched again every `profile-update-interval` hours. The rules are written as
 * a rules file with its providers' files into the local's state folder, so they load exactly as
 * a `--rules FILE` does. Usage is not read here: the account check shows it (one source).
 */
import { join } from "node:path";
import { logger } from "../../common/ops/logging.ts";
import { parseShareLink } from "../../protocol/share_link.ts";
import type { ShareLink } from "../../protocol/share_link.ts";
import { parseLocalSubscription, PORTABLE_FILE } from "../../rules/local_subscription.ts";
import type { PortableRules } from "../../rules/local_subscription.ts";
import { parseRulesFile } from "../../rules/rules_file.ts";
import { RulesError } from "../../rules/rule.ts";
import { fetchSubscription, parseSubscriptionUrl } from "../tunnel/subscription_fetch.ts";
import type { SubscriptionUrl } from "../tunnel/subscription_fetch.ts";

const log = logger("local", "subscription");

/** What a subscription gave. */
export interface TakenSubscription {
  /** The `trojan://` link, as the remote gave it. */
  linkText: string;
  link: ShareLink;
  /** The rules file written from it, or null when the admin set no client rules. */
  rulesPath: string | null;
  /** How many rules it holds. */
  ruleCount: number;
  /** Hours until the next fetch (the answer's `profile-update-interval`, 1–168; default 12). */
  updateHours: number;
}

/** The folder, beside the settings file, where a subscription's rules are kept. */
export function subscriptionRulesFolder(stateDir: string): string {
  return join(stateDir, "subscription");
}

/**
 * Fetches the subscription at `url` and takes it: the link read, the rules (if any) checked
 * and written as `rules.yaml` with its files under {@linkcode subscriptionRulesFolder}.
 *
 * @throws {Error} saying why: the URL, the remote unreachable, the certificate not the pinned
 *   one, a wrong or revoked URL, a document or rules file that is not valid
 * @example const taken = await takeSubscription(text, "/home/ann/.config/swiftproxy", 10_000);
 */
export async function takeSubscription(
  text: string | SubscriptionUrl,
  stateDir: string,
  timeoutMs: number,
): Promise<TakenSubscription> {
  const url = typeof text === "string" ? parseSubscriptionUrl(text) : text;
  const answer = await fetchSubscription(url, timeoutMs);
  if (answer.status !== 200) {
    throw new Error(`the remote answered ${answer.status} (a wrong or revoked subscription URL?)`);
  }
  const doc = parseLocalSubscription(answer.body);
  const link = parseShareLink(doc.link);
  const hours = Number(answer.headers.get("profile-update-interval"));
  const updateHours = Number.isFinite(hours) && hours >= 1 ? Math.min(hours, 168) : 12;
  const folder = subscriptionRulesFolder(stateDir);
  let rulesPath: string | null = null;
  let ruleCount = 0;
  if (doc.rules) {
    ruleCount = checkPortableRules(doc.rules);
    rulesPath = await writeRules(folder, doc.rules);
  } else {
    await Deno.remove(join(folder, "rules.yaml")).catch(() => {});
  }
  return { linkText: doc.link, link, rulesPath, ruleCount, updateHours };
}

/**
 * Checks a subscription's rules file before anything is written: valid, and every provider's
 * `path` a plain file name (a subscription never names a place on the disk).
 *
 * @returns the number of rules
 * @throws {RulesError} with the line and the reason
 */
export function checkPortableRules(rules: PortableRules): number {
  const file = parseRulesFile(rules.text, "the subscription's rules");
  for (const spec of file.providers.values()) {
    if (spec.path !== undefined && !PORTABLE_FILE.test(spec.path)) {
      throw new RulesError(
        spec.line,
        `rule-provider "${spec.name}": path "${spec.path}" is not a plain file name`,
        "the subscription's rules",
      );
    }
    if (spec.type === "file" && !(spec.path! in rules.files)) {
      throw new RulesError(
        spec.line,
        `rule-provider "${spec.name}": the subscription has no file "${spec.path}"`,
        "the subscription's rules",
      );
    }
  }
  return file.rules.length;
}

/** Writes the files, then the rules file (each through a rename): its path. */
async function writeRules(folder: string, rules: PortableRules): Promise<string> {
  await Deno.mkdir(folder, { recursive: true, mode: 0o700 });
  const write = async (name: string, text: string) => {
    const temporary = join(folder, `.${name}.${Deno.pid}.tmp`);
    await Deno.writeTextFile(temporary, text, { mode: 0o600 });
    await Deno.rename(temporary, join(folder, name));
  };
  for (const [name, text] of Object.entries(rules.files)) await write(name, text);
  await write("rules.yaml", rules.text);
  return join(folder, "rules.yaml");
}

/**
 * Fetches a subscription again every `updateHours` (what its last answer said): `changed` gets
 * each answer whose link or rules differ from the last one taken, with that last one. A failed
 * fetch keeps what was taken and is logged once until one succeeds.
 *
 * @example
 * const refresh = new SubscriptionRefresh(url, dir, first, 10_000);
 * refresh.changed = (taken, before) => reconnectIf(taken.linkText !== before.linkText);
 * refresh.start();
 */
export class SubscriptionRefresh {
  /**
   * Called with each answer that changed the link or the rules, the one before it, and whether
   * the rules file changed (then it is to be loaded again, as on SIGHUP for `--rules`).
   */
  changed: (
    taken: TakenSubscription,
    before: TakenSubscription,
    rulesChanged: boolean,
  ) => Promise<void> | void = () => {};
  #timer: ReturnType<typeof setTimeout> | undefined;
  #last: TakenSubscription;
  #failing = false;
  #rulesText = "";

  constructor(
    readonly url: SubscriptionUrl,
    readonly stateDir: string,
    first: TakenSubscription,
    readonly timeoutMs: number,
  ) {
    this.#last = first;
    this.#rulesText = readRules(first.rulesPath);
  }

  /** The subscription as last taken. */
  get last(): TakenSubscription {
    return this.#last;
  }

  /** Schedules the next fetch. */
  start(): void {
    clearTimeout(this.#timer);
    this.#timer = setTimeout(() => void this.refresh(), this.#last.updateHours * 3600_000);
    Deno.unrefTimer(this.#timer);
  }

  /** Stops fetching. */
  stop(): void {
    clearTimeout(this.#timer);
    this.#timer = undefined;
  }

  /** Fetches now; true when something changed. Never throws. */
  async refresh(): Promise<boolean> {
    try {
      const taken = await takeSubscription(this.url, this.stateDir, this.timeoutMs);
      const rulesText = readRules(taken.rulesPath);
      const changed = taken.linkText !== this.#last.linkText || rulesText !== this.#rulesText;
      const before = this.#last;
      const beforeRules = this.#rulesText;
      this.#last = taken;
      this.#rulesText = rulesText;
      if (this.#failing) log.info("subscription fetched again");
      this.#failing = false;
      if (changed) {
        log.info("subscription changed: {rules} rule(s)", { rules: taken.ruleCount });
        await this.changed(taken, before, rulesText !== beforeRules);
      }
      return changed;
    } catch (error) {
      if (!this.#failing) {
        log.warn("subscription not fetched, keeping the last one: {error}", {
          error: (error as Error).message,
        });
      }
      this.#failing = true;
      return false;
    } finally {
      if (this.#timer !== undefined) this.start();
    }
  }
}

function readRules(path: string | null): string {
  if (!path) return "";
  try {
    return Deno.readTextFileSync(path);
  } catch {
    return "";
  }
}
