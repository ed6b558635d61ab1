/**
 * Why the proxy cannot work, said on the command line: the account is checked at start, and
 * again when a tunnel fails after tunnels worked (at most once a minute), and the cause is
 * logged in words at `warning`. A subscriber to the finished connections, not a hook in them.
 */
import { logger } from "../../common/ops/logging.ts";
import type { SessionEnd } from "../../common/ops/session_events.ts";
import type { AccountStatus } from "../tunnel/account_check.ts";
import { Problem } from "../tunnel/problems.ts";
import { tunnelFailed } from "../tunnel/tunnel_outcome.ts";

const log = logger("local", "account");

/** Where the watch checks, and how often at most after a failed tunnel. */
export interface AccountWatchOptions {
  /** The remote, `host:port`, for the words. */
  remote: string;
  user: string;
  /** The `--ca` file, when one is given: a certificate not trusted is then not the one in it. */
  ca?: string;
  /** Least time between two checks after failed tunnels (default one minute). */
  recheckMs?: number;
}

/**
 * Checks the account through `check` (the status destination) and logs what is wrong. Once
 * it has said why tunnels fail it stays quiet until a connection gets bytes back again, and
 * then says that once too.
 *
 * @example
 * const watch = new AccountWatch(() => control.checkAccount(), { remote, user });
 * control.events.subscribe((end) => watch.observe(end));
 * await watch.start(1_000);
 */
export class AccountWatch {
  readonly #check: () => Promise<AccountStatus>;
  readonly #options: AccountWatchOptions;
  /** Tunnels are known to work: the last check passed, or a connection got bytes back. */
  #working = false;
  /** The remote answers tunnels but not the check (a plain Trojan server): do not ask again. */
  #uncheckable = false;
  #checking = false;
  /** When a failed tunnel last started a check (the one at start does not count). */
  #lastRecheck = -Infinity;

  constructor(check: () => Promise<AccountStatus>, options: AccountWatchOptions) {
    this.#check = check;
    this.#options = options;
  }

  /**
   * The check at start. Resolves once it is logged, or after `patienceMs` with the check
   * still going (its line then comes later); it never throws.
   */
  start(patienceMs = Infinity): Promise<void> {
    const checked = this.#first();
    if (!Number.isFinite(patienceMs)) return checked;
    return new Promise((resolve) => {
      const timer = setTimeout(resolve, patienceMs);
      checked.then(() => {
        clearTimeout(timer);
        resolve();
      });
    });
  }

  async #first(): Promise<void> {
    const problem = await this.#run();
    if (problem) {
      log.warn("{cause} {next}", {
        cause: explain(problem, this.#options),
        next: AT_START[problem.kind] ?? AT_START.default,
      });
    } else {
      log.info("logged in to {remote} as {user}", { ...this.#options });
    }
  }

  /** Sees one finished connection; a failed tunnel after a working one may start a check. */
  observe(end: SessionEnd): void {
    // A connection the rules sent direct or refused says nothing about the tunnels.
    if (end.route && end.route !== "proxy") return;
    if (end.down > 0 && !tunnelFailed(end.outcome)) {
      if (!this.#working) log.info("tunnels to {remote} work", { ...this.#options });
      this.#working = true;
      return;
    }
    if (!tunnelFailed(end.outcome) || !this.#working || this.#uncheckable || this.#checking) return;
    const now = performance.now();
    if (now - this.#lastRecheck < (this.#options.recheckMs ?? 60_000)) return;
    this.#lastRecheck = now;
    this.#run().then((problem) => {
      if (problem) {
        log.warn("tunnels to {remote} fail: {cause}", {
          ...this.#options,
          cause: explain(problem, this.#options),
        });
      }
    });
  }

  /** One check; the problem it found, if any. */
  async #run(): Promise<Problem | null> {
    this.#checking = true;
    try {
      await this.#check();
      this.#working = true;
      return null;
    } catch (error) {
      const problem = error instanceof Problem
        ? error
        : new Problem("remote-unreachable", (error as Error).message);
      // A plain Trojan server relays fine but never answers the check: nothing to learn later.
      this.#uncheckable = problem.kind === "not-swiftproxy";
      this.#working = false;
      return problem;
    } finally {
      this.#checking = false;
    }
  }
}

/** What the start says after the cause: the proxy listens anyway, and what that means. */
const AT_START: Record<string, string> = {
  "remote-unreachable":
    "The proxy listens anyway; its requests fail until the remote answers (it may come up later).",
  "not-swiftproxy": "The proxy listens anyway.",
  default: "The proxy listens anyway, but its requests will fail until this is fixed.",
};

/** A problem in the command line's words: what is wrong and which option fixes it. */
function explain(problem: Problem, { remote, user, ca }: AccountWatchOptions): string {
  switch (problem.kind) {
    case "certificate-not-trusted":
      if (/pinned/.test(problem.message)) return problem.message;
      if (ca) {
        return `Certificate not trusted: the certificate ${remote} showed is not the one in ` +
          `${ca} (nor issued by it), or was not issued for the name the local checks. Give ` +
          `the remote's own certificate (tls/cert.pem in its data folder; its SHA-256 ` +
          `fingerprint is the one swiftproxy-remote serve prints), or --server-name NAME ` +
          `when it was issued for another name.`;
      }
      return `Certificate not trusted: ${remote} showed a certificate this computer does not ` +
        `trust. Give the remote's certificate with --ca FILE (tls/cert.pem in its data ` +
        `folder; its SHA-256 fingerprint is the one swiftproxy-remote serve prints), or ` +
        `--server-name NAME when it was issued for another name.`;
    case "login-refused":
      return `${problem.message} Check --user (${user}) and the password ` +
        `(SWIFTPROXY_PASSWORD or --password).`;
    case "not-swiftproxy":
      return `${problem.message} A plain Trojan server still works as a remote (only the ` +
        `account cannot be checked); anything else: check --remote.`;
    default:
      return problem.message;
  }
}
