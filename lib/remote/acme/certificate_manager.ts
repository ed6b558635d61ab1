/**
 * `serve --acme`: keeps the tunnel port's certificate issued and renewed. At start it serves
 * the certificate issued earlier if it covers the names, else the self-signed one until the
 * first issuance succeeds; it renews at two thirds of the lifetime (see schedule.ts) and
 * retries a failure with a growing wait. A new pair is saved in the data directory and handed
 * to `install` (serve's reload path), which swaps it in for new connections only.
 */
import acme from "acme-client";
import { logger } from "../../common/ops/logging.ts";
import { formatHostPort } from "../../protocol/address.ts";
import type { Destination } from "../../protocol/address.ts";
import { savedPair, savePair } from "./acme_files.ts";
import { Challenges } from "./challenges.ts";
import { failureHint } from "./failure_hint.ts";
import { serveHttpChallenges } from "./http_answerer.ts";
import { issueCertificate } from "./issuer.ts";
import type { IssuerOptions } from "./issuer.ts";
import { renewalTime, retryDelay } from "./schedule.ts";
import type { Validity } from "./schedule.ts";

const log = logger("remote", "acme");

/** setTimeout's longest delay; a renewal 60 days away is waited for in steps. */
const MAX_TIMER_MS = 2 ** 31 - 1;

/** What `--acme` needs beyond the issuer's options. */
export interface AcmeOptions extends IssuerOptions {
  /** `--acme-http`: where HTTP-01 is answered (the CA asks on port 80). */
  httpListen: Destination;
  /** Waits after failures: {@linkcode retryDelay}'s bounds. */
  retry?: { minMs?: number; maxMs?: number };
  clock?: () => number;
  random?: () => number;
}

/** The validity and names of a PEM chain's leaf. */
function leafInfo(pem: string): Validity & { names: string[] } {
  const info = acme.crypto.readCertificateInfo(pem);
  const names = [...new Set([info.domains.commonName, ...info.domains.altNames])].filter(Boolean);
  return { notBefore: info.notBefore.getTime(), notAfter: info.notAfter.getTime(), names };
}

const when = (ms: number) => new Date(ms).toISOString().replace(/\.\d+Z$/, "Z");

/** Obtains, saves, installs and renews the certificate for `--acme`'s names. */
export class CertificateManager {
  readonly #options: AcmeOptions;
  readonly #install: (pair: { cert: string; key: string }) => Promise<unknown>;
  readonly #challenges = new Challenges();
  readonly #clock: () => number;
  #answerer?: Deno.HttpServer<Deno.NetAddr>;
  #timer?: ReturnType<typeof setTimeout>;
  #failures = 0;
  #stopped = false;
  #running: Promise<void> = Promise.resolve();
  /** The issued pair being served, if any (else the self-signed one is). */
  #current?: Validity;

  /** @param install swaps a new pair in (already saved in the data directory) */
  constructor(
    options: AcmeOptions,
    install: (pair: { cert: string; key: string }) => Promise<unknown>,
  ) {
    this.#options = options;
    this.#install = install;
    this.#clock = options.clock ?? Date.now;
  }

  /**
   * Starts the HTTP-01 answerer and the first issuance or the renewal timer.
   *
   * @throws {Deno.errors.AddrInUse} when `--acme-http`'s address is taken
   */
  start(): void {
    this.#answerer = serveHttpChallenges(this.#options.httpListen, this.#challenges);
    log.info("answering HTTP-01 challenges on {address}", {
      address: formatHostPort(this.#options.httpListen),
    });
    const saved = savedPair(this.#options.data);
    const info = saved ? leafInfo(saved.cert) : undefined;
    const missing = info && this.#options.domains.filter((name) => !info.names.includes(name));
    if (!info || missing!.length > 0) {
      log.info(
        info
          ? "the certificate issued earlier lacks {missing}: ordering a new one; the self-signed " +
            "certificate serves meanwhile"
          : "no certificate issued yet: ordering one; the self-signed certificate serves meanwhile",
        { missing: missing?.join(", ") },
      );
      this.#schedule(0);
      return;
    }
    this.#current = info;
    const due = renewalTime(info, this.#options.random);
    log.info("serving the certificate issued earlier: expires {expires}, renewal from {due}", {
      expires: when(info.notAfter),
      due: when(due),
    });
    this.#schedule(due - this.#clock());
  }

  /** Settles when the issuance under way (if any) has ended. */
  get settled(): Promise<void> {
    return this.#running;
  }

  /** Stops the timer and the HTTP-01 answerer; an issuance under way finishes unheard. */
  async stop(): Promise<void> {
    this.#stopped = true;
    clearTimeout(this.#timer);
    await this.#answerer?.shutdown();
  }

  #schedule(delayMs: number): void {
    if (this.#stopped) return;
    const at = this.#clock() + Math.max(0, delayMs);
    const wait = () => {
      const left = at - this.#clock();
      if (left > 0) {
        this.#timer = setTimeout(wait, Math.min(left, MAX_TIMER_MS));
        return;
      }
      this.#running = this.#issue();
    };
    wait();
  }

  async #issue(): Promise<void> {
    let pair: { cert: string; key: string };
    try {
      pair = await issueCertificate(this.#options, this.#challenges);
    } catch (error) {
      this.#failed(error);
      return;
    }
    if (this.#stopped) return;
    const info = leafInfo(pair.cert);
    try {
      savePair(this.#options.data, pair);
    } catch (error) {
      this.#failed(
        new Error(`cannot save it in the data directory: ${(error as Error).message}`),
      );
      return;
    }
    await this.#install(pair);
    this.#failures = 0;
    this.#current = info;
    const due = renewalTime(info, this.#options.random);
    log.info("certificate issued for {names}: expires {expires}, renewal from {due}", {
      names: info.names.join(", "),
      expires: when(info.notAfter),
      due: when(due),
    });
    this.#schedule(due - this.#clock());
  }

  #failed(error: unknown): void {
    this.#failures++;
    const delay = retryDelay(this.#failures, {
      ...this.#options.retry,
      random: this.#options.random,
    });
    const keeping = this.#current
      ? `keeping the certificate issued earlier (expires ${when(this.#current.notAfter)})`
      : "the self-signed certificate keeps serving";
    log.error(
      "certificate for {names} not issued: {error}; check: {hint}; {keeping}; next try in {wait} s",
      {
        names: this.#options.domains.join(", "),
        error: (error as Error)?.message ?? String(error),
        hint: failureHint(error),
        keeping,
        wait: Math.round(delay / 1000),
      },
    );
    this.#schedule(delay);
  }
}
