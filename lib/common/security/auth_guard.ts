/**
 * The brute-force guard: failed authentications are counted per source address, and an
 * address past the limit is refused for a cooling-off period. The remote guards its tunnel
 * logins with it, the local its SOCKS5 and HTTP proxy logins.
 */
import { sourceKey } from "./source_key.ts";
import { logger } from "../ops/logging.ts";
import type { Logger } from "../ops/logging.ts";

/** Limits for {@linkcode AuthGuard}. */
export interface AuthGuardOptions {
  /** Failures allowed per source within `windowMs`; 0 turns the guard off. */
  limit: number;
  /** The counting window (default one minute). */
  windowMs?: number;
  /** How long an address past the limit is refused. */
  coolOffMs: number;
  /** Most addresses tracked at once; the oldest are forgotten past it. */
  maxTracked?: number;
}

/** Where a guard says that a source starts cooling off (default `swiftproxy.guard`). */
export interface AuthGuardLog {
  log?: Logger;
}

interface Source {
  windowStart: number;
  failures: number;
  blockedUntil: number;
}

/**
 * Tracks failed logins per source. IPv6 sources count per /64, since one host usually has a
 * whole /64 to pick addresses from. Never told which part of a login was wrong: it only
 * learns that one failed.
 *
 * @example
 * const guard = new AuthGuard({ limit: 20, coolOffMs: 600_000 });
 * if (guard.isBlocked(ip) || !known(token)) guard.fail(ip);
 */
export class AuthGuard {
  readonly #limit: number;
  readonly #windowMs: number;
  readonly #coolOffMs: number;
  readonly #maxTracked: number;
  readonly #sources = new Map<string, Source>();
  readonly #log: Logger;
  #lastPrune = 0;

  constructor(options: AuthGuardOptions, { log = logger("guard") }: AuthGuardLog = {}) {
    this.#log = log;
    this.#limit = options.limit;
    this.#windowMs = options.windowMs ?? 60_000;
    this.#coolOffMs = options.coolOffMs;
    this.#maxTracked = options.maxTracked ?? 100_000;
  }

  /** True while `ip` is in its cooling-off period. */
  isBlocked(ip: string, now = Date.now()): boolean {
    const source = this.#sources.get(sourceKey(ip));
    return source !== undefined && now < source.blockedUntil;
  }

  /** Counts one failed authentication from `ip`; logs once when that starts a cooling-off. */
  fail(ip: string, now = Date.now()): void {
    if (this.#limit <= 0) return;
    if (now - this.#lastPrune >= this.#windowMs) {
      this.#lastPrune = now;
      this.prune(now);
    }
    const key = sourceKey(ip);
    let source = this.#sources.get(key);
    if (!source) {
      if (this.#sources.size >= this.#maxTracked) this.prune(now, true);
      source = { windowStart: now, failures: 0, blockedUntil: 0 };
      this.#sources.set(key, source);
    }
    if (now - source.windowStart >= this.#windowMs) {
      source.windowStart = now;
      source.failures = 0;
    }
    source.failures++;
    if (source.failures > this.#limit && now >= source.blockedUntil) {
      source.blockedUntil = now + this.#coolOffMs;
      this.#log.warn(
        "{source}: {failures} failed logins within {window} s; refusing it for {coolOff} s",
        {
          source: key,
          failures: source.failures,
          window: this.#windowMs / 1000,
          coolOff: this.#coolOffMs / 1000,
        },
      );
    }
  }

  /**
   * Forgets sources with nothing left to remember (call now and then); with `force`, also
   * the oldest half when the table is full, so a spoofing flood cannot grow it without bound.
   */
  prune(now = Date.now(), force = false): void {
    for (const [key, source] of this.#sources) {
      if (now >= source.blockedUntil && now - source.windowStart >= this.#windowMs) {
        this.#sources.delete(key);
      }
    }
    if (force && this.#sources.size >= this.#maxTracked) {
      let drop = this.#sources.size >> 1;
      for (const key of this.#sources.keys()) {
        if (drop-- <= 0) break;
        this.#sources.delete(key);
      }
    }
  }

  /** Failures counted for `ip` in its current window. */
  failures(ip: string, now = Date.now()): number {
    const source = this.#sources.get(sourceKey(ip));
    return source && now - source.windowStart < this.#windowMs ? source.failures : 0;
  }

  /** Forgets every failure and ends every cooling-off (the admin cleared them). */
  clear(): void {
    this.#sources.clear();
  }

  /** Sources in their cooling-off period now. */
  blocked(now = Date.now()): number {
    let count = 0;
    for (const source of this.#sources.values()) if (now < source.blockedUntil) count++;
    return count;
  }

  /** Sources tracked now. */
  get size(): number {
    return this.#sources.size;
  }
}
