/**
 * Why the remote closed a tunnel at once. Trojan has no answer in the tunnel, so a SwiftProxy
 * remote keeps the user's last refusal in the account-status document, and a login check that
 * fails says the login itself is refused. One check answers every tunnel that failed
 * meanwhile; while the whole account is known to be refused, new connections are answered
 * from that (after at most one check a second), without a tunnel.
 */
import { Reply } from "../../protocol/socks5.ts";
import type { AccountStatus, RefusalReason } from "../../protocol/account_status.ts";
import { Problem } from "./problems.ts";

/** What the app and the user are told about a refused tunnel. */
export interface Diagnosis {
  /** For the access log and the dashboard: the remote's reason, or `login-refused`/`unknown`. */
  kind: RefusalReason | "login-refused" | "unknown";
  /** One sentence: why, and what fixes it. */
  words: string;
  /** The SOCKS5 REP code that fits, where the reply is not sent yet. */
  rep: number;
  /** Every tunnel of the account is refused, not only those to this destination. */
  accountWide: boolean;
}

/** How long one check's answer tells whether the whole account is still refused. */
const REUSE_MS = 1_000;
/** Slack between the remote's refusal and the local's view of when the tunnel started. */
const SLACK_MS = 2_000;

/**
 * Explains tunnels the remote closed at once through `check` (the account-status check).
 *
 * @example
 * const diagnosis = new TunnelDiagnosis(() => checkAccount(endpoint));
 * const { words, rep } = await diagnosis.explain("example.org:443", startedAt);
 */
export class TunnelDiagnosis {
  readonly #check: () => Promise<AccountStatus>;
  #asking: Promise<{ at: number; answer: AccountStatus | Problem }> | null = null;
  #askedAt = -Infinity;
  #known: Diagnosis | null = null;

  constructor(check: () => Promise<AccountStatus>) {
    this.#check = check;
  }

  /** The account-wide refusal last learned, until a tunnel works or a check passes. */
  get known(): Diagnosis | null {
    return this.#known;
  }

  /** A tunnel got bytes back: the account works. */
  worked(): void {
    this.#known = null;
  }

  /** Takes in the answer of a check made elsewhere (the start-up check, the dashboard's). */
  learn(answer: AccountStatus | Problem): void {
    this.#known = diagnose(answer, "", 0);
    if (!this.#known?.accountWide) this.#known = null;
  }

  /**
   * Why the tunnel to `destination` (`host:port`), opened at `since` (`Date.now()`),
   * was closed at once.
   */
  async explain(destination: string, since: number): Promise<Diagnosis> {
    // Only a check asked after the tunnel ended is sure to know of its refusal.
    const { at, answer } = await this.#ask(Date.now());
    const found = diagnose(answer, destination, at - since + SLACK_MS) ?? UNKNOWN;
    this.#known = found.accountWide ? found : null;
    return found;
  }

  /** Whether the known account-wide refusal still holds (asked at most once a second). */
  async stillRefused(): Promise<Diagnosis | null> {
    if (!this.#known) return null;
    const { answer } = await this.#ask(Date.now() - REUSE_MS);
    this.learn(answer);
    return this.#known;
  }

  /**
   * A check asked no earlier than `notBefore` (`Date.now()`), shared by all who may use it:
   * tunnels that fail together wait for one check after the one in flight, not one each.
   */
  async #ask(notBefore: number): Promise<{ at: number; answer: AccountStatus | Problem }> {
    const asking = this.#asking;
    if (asking && this.#askedAt >= notBefore) return asking;
    if (asking) {
      await asking;
      if (this.#asking !== asking) return this.#ask(notBefore);
    }
    this.#askedAt = Date.now();
    const fresh = this.#check().then(
      (status) => status as AccountStatus | Problem,
      (error) => error instanceof Problem ? error : new Problem("remote-unreachable", `${error}`),
    ).then((answer) => ({ at: Date.now(), answer }));
    this.#asking = fresh;
    return fresh;
  }
}

/**
 * A check's answer as the reason of a tunnel to `destination` that failed within the last
 * `withinMs`: the account's refusal, or the destination's when the remote refused it that
 * recently; null when the answer says nothing about it.
 */
function diagnose(
  answer: AccountStatus | Problem,
  destination: string,
  withinMs: number,
): Diagnosis | null {
  if (answer instanceof Problem) {
    if (answer.kind !== "login-refused") return null;
    return answer.refusal ? words(answer.refusal, destination) : LOGIN_REFUSED;
  }
  if (answer.refusal) return words(answer.refusal, destination, answer.otherPlaces);
  const last = answer.lastRefusal;
  if (last && last.destination === destination && last.agoMs <= withinMs) {
    return words(last.reason, destination);
  }
  return null;
}

const ACCOUNT_WIDE = new Set<RefusalReason>(["over-quota", "expired", "disabled", "max-ips"]);

function words(reason: RefusalReason, destination: string, places?: number): Diagnosis {
  const [sentence, rep] = SENTENCES[reason](destination, places);
  return { kind: reason, words: sentence, rep, accountWide: ACCOUNT_WIDE.has(reason) };
}

const SENTENCES: Record<
  RefusalReason,
  (destination: string, places?: number) => [string, number]
> = {
  "not-allowed": (d) => [
    `The remote does not serve ${d} (a private or blocked address); ask your admin if you need it.`,
    Reply.notAllowed,
  ],
  "unresolved": (d) => [
    `The remote cannot resolve the name in ${d}; check it for a typo.`,
    Reply.hostUnreachable,
  ],
  "refused": (d) => [
    `${d} refused the remote's connection; the service there is down or on another port.`,
    Reply.connectionRefused,
  ],
  "unreachable": (d) => [
    `The remote cannot reach ${d}; it may be down, try again later.`,
    Reply.hostUnreachable,
  ],
  "over-quota": () => [
    "Your account has used up its quota; ask your admin for more, or wait for its reset.",
    Reply.notAllowed,
  ],
  "expired": () => ["Your account has expired; ask your admin to extend it.", Reply.notAllowed],
  "disabled": () => ["Your account is disabled; ask your admin.", Reply.notAllowed],
  "max-conns": () => [
    "Your account has as many connections open as it may; close some, or ask your admin.",
    Reply.notAllowed,
  ],
  "max-ips": (_, places) => [
    `Your account is in use from ${places ?? "too many"} other place${
      places === 1 ? "" : "s"
    }, as many as it may; disconnect one of them, or ask your admin.`,
    Reply.notAllowed,
  ],
  "server-full": () => [
    "The remote is at its connection limit; try again in a moment.",
    Reply.generalFailure,
  ],
};

const LOGIN_REFUSED: Diagnosis = {
  kind: "login-refused",
  words: "The remote refused the login: wrong name or password; check --user and --password " +
    "(or SWIFTPROXY_PASSWORD, or the link).",
  rep: Reply.notAllowed,
  accountWide: true,
};

const UNKNOWN: Diagnosis = {
  kind: "unknown",
  words: "The remote closed the tunnel at once without saying why (the destination refused or " +
    "is unreachable, or the remote is not a SwiftProxy remote that tells).",
  rep: Reply.generalFailure,
  accountWide: false,
};
