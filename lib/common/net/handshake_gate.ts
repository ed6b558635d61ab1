/**
 * A cap on connections that have not logged in yet (TLS handshake, tunnel header, refusal,
 * fallback relay), so neither a slowloris flood nor one source can use up sockets. A source that
 * has logged in keeps its silent connections (a local's ready tunnels) apart, within a bound.
 */
import { logger } from "../ops/logging.ts";
import { sourceKey } from "../security/source_key.ts";

const log = logger("guard");

/**
 * Connections not logged in yet that one source address may hold at once on the remote: far
 * above what a browser or a NAT of honest clients opens in the milliseconds a login takes,
 * far below what it takes to run a server out of file descriptors.
 */
export const PRE_LOGIN_PER_SOURCE = 64;

/**
 * Connections that finished TLS and have sent nothing yet (a local's ready tunnels) that a
 * source which logged in within {@linkcode RECENT_LOGIN_MS} may hold beyond
 * {@linkcode PRE_LOGIN_PER_SOURCE}: twice what one local's pool keeps. The moment one sends a
 * byte it counts like any other, so half a header from that address is capped as from anyone.
 */
export const READY_PER_SOURCE = 64;

/**
 * Connections still in their TLS handshake that a source which logged in within
 * {@linkcode RECENT_LOGIN_MS} may hold beyond {@linkcode PRE_LOGIN_PER_SOURCE}: a burst of 64
 * SOCKS5 connects to a local while its pool refills, at a remote busy with handshakes, from a
 * few such locals behind one NAT. Once a handshake is done the connection counts as any other.
 */
export const HANDSHAKING_PER_SOURCE = 256;

/** How long a login keeps its source's ready and handshaking connections apart. */
export const RECENT_LOGIN_MS = 10 * 60_000;

/** Sources whose last login is remembered, at most (the oldest is forgotten first). */
const LOGINS_KEPT = 10_000;

/** Anything a gate can close: a peer, or a raw socket still in its TLS handshake. */
export interface Closable {
  close(): void;
}

/**
 * Counts connections between accept and login. When `max` are waiting, a new one makes room
 * by closing the oldest waiting one; when `perSource` of one source address (an IPv6 /64
 * counts as one) are waiting, a new one from it closes that source's oldest. A flood of
 * stalled connections then churns through itself, while an honest client, whose handshake
 * takes milliseconds, finishes long before it would be the oldest. 0 means no cap.
 *
 * @example
 * const gate = new HandshakeGate(1024, 64);
 * gate.enter(peer, "192.0.2.1");
 * await handshake(peer);
 * gate.leave(peer);
 */
export class HandshakeGate {
  readonly max: number;
  readonly perSource: number;
  readonly #waiting = new Map<Closable, string>();
  readonly #bySource = new Map<string, Set<Closable>>();
  /** Connections kept apart from their source's count ({@linkcode enterSilent}), by source. */
  readonly #readyBySource = new Map<string, Set<Closable>>();
  /** The same for {@linkcode enterHandshaking}. */
  readonly #handshakingBySource = new Map<string, Set<Closable>>();
  /** When each source last logged in, oldest first. */
  readonly #logins = new Map<string, number>();
  #evicted = 0;
  #lastWarning = -Infinity;
  #lastSourceWarning = -Infinity;

  constructor(max: number, perSource = 0) {
    this.max = max;
    this.perSource = perSource;
  }

  /**
   * Counts `peer` (from the address `source`, if known) as not logged in yet, closing the
   * oldest waiting connection of the whole gate or of that source when either is full.
   */
  enter(peer: Closable, source = ""): void {
    if (this.#waiting.has(peer)) return;
    const key = source && sourceKey(source);
    this.#makeRoom();
    this.#enterSource(peer, key);
  }

  /**
   * Counts `peer`, whose TLS handshake is done and which has sent nothing yet, as
   * {@linkcode enter} does, except that a source that logged in recently may hold
   * {@linkcode READY_PER_SOURCE} of these beyond its cap. Call {@linkcode spoke} at its first
   * bytes.
   */
  enterSilent(peer: Closable, source: string): void {
    this.#enterApart(this.#readyBySource, READY_PER_SOURCE, peer, source);
  }

  /**
   * Counts `peer`, whose TLS handshake has begun, as {@linkcode enter} does, except that a
   * source that logged in recently may hold {@linkcode HANDSHAKING_PER_SOURCE} of these beyond
   * its cap. Call {@linkcode leave} when the handshake ends.
   */
  enterHandshaking(peer: Closable, source: string): void {
    this.#enterApart(this.#handshakingBySource, HANDSHAKING_PER_SOURCE, peer, source);
  }

  /** Keeps `peer` in `apart` if its source logged in recently and has room there. */
  #enterApart(
    apart: Map<string, Set<Closable>>,
    room: number,
    peer: Closable,
    source: string,
  ): void {
    if (this.#waiting.has(peer)) return;
    if (!source) return this.enter(peer);
    const key = sourceKey(source);
    const group = apart.get(key);
    const login = this.#logins.get(key);
    const recent = login !== undefined && performance.now() - login < RECENT_LOGIN_MS;
    if (!recent || (group?.size ?? 0) >= room) return this.enter(peer, source);
    this.#makeRoom();
    this.#waiting.set(peer, key);
    if (group) group.add(peer);
    else apart.set(key, new Set([peer]));
  }

  /** `peer` sent its first bytes: from now on it counts against its source's cap. */
  spoke(peer: Closable): void {
    const key = this.#waiting.get(peer);
    if (key === undefined || !this.#readyBySource.get(key)?.has(peer)) return;
    this.#forgetApart(peer, key);
    this.#enterSource(peer, key);
  }

  /** `source` logged in: its silent connections are kept apart for {@linkcode RECENT_LOGIN_MS}. */
  loggedIn(source: string): void {
    const key = sourceKey(source);
    this.#logins.delete(key);
    this.#logins.set(key, performance.now());
    if (this.#logins.size > LOGINS_KEPT) this.#logins.delete(this.#logins.keys().next().value!);
  }

  /** Closes the oldest waiting connection when the whole gate is full. */
  #makeRoom(): void {
    if (this.max > 0 && this.#waiting.size >= this.max) {
      this.#evict(this.#waiting.keys().next().value!);
      const now = performance.now();
      if (now - this.#lastWarning >= 60_000) {
        this.#lastWarning = now;
        log.warn(
          "{max} connections are in handshake at once (a slowloris flood?); closing the oldest ones ({evicted} so far)",
          { max: this.max, evicted: this.#evicted },
        );
      }
    }
  }

  /** Counts `peer` against the cap of the source `key`, closing that source's oldest if full. */
  #enterSource(peer: Closable, key: string): void {
    const same = this.#bySource.get(key);
    if (this.perSource > 0 && same && same.size >= this.perSource) {
      this.#evict(same.values().next().value!);
      const now = performance.now();
      if (now - this.#lastSourceWarning >= 60_000) {
        this.#lastSourceWarning = now;
        log.warn(
          "{source} has {max} connections that have not logged in; closing its oldest ones",
          { source: key, max: this.perSource },
        );
      }
    }
    this.#waiting.set(peer, key);
    if (!key) return;
    const group = this.#bySource.get(key);
    if (group) group.add(peer);
    else this.#bySource.set(key, new Set([peer]));
  }

  /** The handshake of `peer` ended (logged in, failed or closed); safe to call more than once. */
  leave(peer: Closable): void {
    const key = this.#waiting.get(peer);
    if (key === undefined) return;
    this.#waiting.delete(peer);
    this.#forgetApart(peer, key);
    const same = this.#bySource.get(key);
    same?.delete(peer);
    if (same?.size === 0) this.#bySource.delete(key);
  }

  #forgetApart(peer: Closable, key: string): void {
    for (const apart of [this.#readyBySource, this.#handshakingBySource]) {
      const group = apart.get(key);
      if (!group?.delete(peer)) continue;
      if (group.size === 0) apart.delete(key);
    }
  }

  /**
   * Closes the `count` oldest waiting connections, to give their descriptors back when the
   * process has run out. Returns how many it closed.
   */
  shed(count: number): number {
    const oldest = this.#waiting.keys().take(count).toArray();
    for (const peer of oldest) this.#evict(peer);
    return oldest.length;
  }

  #evict(peer: Closable): void {
    this.leave(peer);
    peer.close();
    this.#evicted++;
  }

  /** Connections in handshake now. */
  get size(): number {
    return this.#waiting.size;
  }

  /** Connections closed to make room since start. */
  get evicted(): number {
    return this.#evicted;
  }
}
