/**
 * Mux.Cool on the remote: a logged-in tunnel to `v1.mux.cool` carries many sub-connections
 * (V2Ray and Xray clients with "Mux" on). This module reads the frames and keeps the table of
 * sub-connections; each one is handed to the server as a session of its own (a CONNECT or a UDP
 * association through a {@linkcode MuxStream}), so the destination guard, limits, quota, kicks,
 * `max-conns`, accounting, the access line and `SessionEnd` apply to it as to any tunnel. The
 * tunnel itself is not a session: it holds no connection slot and has no access line.
 *
 * Backpressure (`lib/common/mux/mux_sessions.ts`): each session queues at most
 * {@linkcode SESSION_QUEUE} bytes and the tunnel {@linkcode TUNNEL_QUEUE}; a session in the way
 * that takes no data for {@linkcode STALL_MS} is closed alone (End with the error bit). A
 * session that reads slowly (a rate limit, a slow site) paces the tunnel but is kept.
 */
import { decodeMuxFrame, MUX_COOL, MuxStatus } from "../../protocol/mux_cool.ts";
import { TrojanCommand } from "../../protocol/trojan.ts";
import type { TrojanHeader } from "../../protocol/trojan.ts";
import type { MuxFrame, MuxTarget } from "../../protocol/mux_cool.ts";
import { ProtocolError } from "../../protocol/errors.ts";
import type { Peer } from "../../common/net/peer.ts";
import { watchIdle } from "../../common/net/idle.ts";
import type { IdleWatch } from "../../common/net/idle.ts";
import { logger } from "../../common/ops/logging.ts";
import type { SessionEvents } from "../../common/ops/session_events.ts";
import type { Account } from "../users/accounts.ts";
import { MuxStream } from "../../common/mux/mux_stream.ts";
import { MuxSessions } from "../../common/mux/mux_sessions.ts";

const log = logger("remote", "mux");

/** Most bytes one session may have queued before the reader waits for it. */
export const SESSION_QUEUE = 512 * 1024;
/** Most bytes all sessions of a tunnel may have queued before the reader waits. */
export const TUNNEL_QUEUE = 4 * 1024 * 1024;
/** How long a session in the way may take no data before it is closed alone. */
export const STALL_MS = 3_000;
/** Most sub-connections open at once on one tunnel (V2Ray's largest `concurrency`). */
export const MAX_STREAMS = 1024;

/** What {@linkcode serveMux} needs from the server. */
export interface MuxDeps {
  account: Account;
  /** The tunnel's client, `host:port`, for log lines. */
  client: string;
  events: SessionEvents;
  /** 0 for never: the tunnel closes after this long with no frame either way. */
  idleTimeoutMs: number;
  /** The connection limit of a user without one of its own (`serve --user-max-conns`; 0: none). */
  defaultMaxConns: number;
  /** Whether the tunnel's credential no longer holds (removed, password changed, evicted). */
  revoked(): boolean;
  /** Runs one sub-connection as a session; settles when it has ended. */
  open(stream: MuxStream): Promise<void>;
}

/**
 * Serves the Mux.Cool frames of `tunnel` until it closes, fails, sends a malformed frame, goes
 * idle or its user is revoked; then ends every sub-connection and waits for them.
 *
 * @example await serveMux(peer, { account, client, events, idleTimeoutMs, defaultMaxConns, revoked, open });
 */
export async function serveMux(tunnel: Peer, deps: MuxDeps): Promise<void> {
  await new MuxTunnel(tunnel, deps).run();
}

class MuxTunnel extends MuxSessions {
  readonly peer: Peer;
  readonly #deps: MuxDeps;
  readonly #running = new Set<Promise<void>>();
  readonly #idle: IdleWatch;

  constructor(peer: Peer, deps: MuxDeps) {
    super({ sessionQueue: SESSION_QUEUE, tunnelQueue: TUNNEL_QUEUE, stallMs: STALL_MS });
    this.peer = peer;
    this.#deps = deps;
    const controller = new AbortController();
    controller.signal.addEventListener("abort", () => peer.close(), { once: true });
    this.#idle = watchIdle(deps.idleTimeoutMs, {}, controller);
  }

  async run(): Promise<void> {
    let why = "closed by the client";
    try {
      for (;;) {
        try {
          const frame = await this.peer.readFrame(decodeMuxFrame);
          this.active();
          await this.#handle(frame);
        } catch (error) {
          if (error instanceof ProtocolError) {
            why = `malformed frame: ${error.message}`;
            log.warn("mux tunnel of {user} from {client}: {error}; closing it", {
              user: this.#deps.account.user.name,
              client: this.#deps.client,
              error: error.message,
            });
          } else if (!(error instanceof Deno.errors.UnexpectedEof)) why = String(error);
          break;
        }
      }
    } finally {
      this.peer.close();
      this.#idle.stop();
      for (const stream of this.streams.values()) stream.fail(why);
      await Promise.all(this.#running);
      log.debug("mux tunnel of {user} from {client} ended: {why}", {
        user: this.#deps.account.user.name,
        client: this.#deps.client,
        why,
      });
    }
  }

  #handle(frame: MuxFrame): Promise<void> | void {
    const known = this.streams.get(frame.id);
    switch (frame.status) {
      case MuxStatus.new:
        if (known) throw new ProtocolError(`session ${frame.id} opened twice`);
        return this.#open(frame.id, frame.target!, frame.data);
      case MuxStatus.keep:
        // A session this side has closed: its End is on the way; the data has nowhere to go.
        if (!known || !frame.data) return;
        return this.push(
          known,
          frame.data,
          frame.target?.network === "udp" ? frame.target : undefined,
        );
      case MuxStatus.end:
        known?.peerEnd(frame.error);
        return;
      default:
        return; // KeepAlive
    }
  }

  async #open(id: number, target: MuxTarget, data?: Uint8Array): Promise<void> {
    const { account, client } = this.#deps;
    const stream = new MuxStream(id, target, this, this.peer.conn);
    const refusal = this.streams.size >= MAX_STREAMS
      ? `${MAX_STREAMS} sub-connections open on one tunnel`
      : account.refusal(Date.now(), this.#deps.defaultMaxConns);
    if (refusal) {
      const user = account.user.name;
      log.warn("refused {user} from {client}: {reason}", { user, client, reason: refusal });
      this.#deps.events.refused({ client, user, result: "refused_account" });
      stream.close();
      if (this.#deps.revoked()) this.peer.close();
      return;
    }
    this.streams.set(id, stream);
    const running = this.#deps.open(stream).catch((error) => {
      log.error("mux session failed: {error}", { error });
    }).finally(() => {
      stream.close();
      this.#running.delete(running);
      // A kick (disabled, removed, over quota) ends the sessions; the tunnel goes with them.
      if (this.#deps.revoked()) this.peer.close();
    });
    this.#running.add(running);
    if (data) await this.push(stream, data);
  }

  send(frames: Uint8Array): Promise<void> {
    return this.peer.write(frames);
  }

  protected stalled(stream: MuxStream, ms: number): void {
    log.info(
      "closing sub-connection {id} of {user} to {destination}: it took no data for {ms} ms",
      {
        id: stream.id,
        user: this.#deps.account.user.name,
        destination: `${stream.target.host}:${stream.target.port}`,
        ms,
      },
    );
    stream.session?.abort();
    stream.close();
  }

  active(): void {
    this.#idle.up.take(0);
  }
}

/** Whether a tunnel header asks for Mux.Cool: a CONNECT to `v1.mux.cool` (any port, as V2Ray). */
export function isMuxCool(header: TrojanHeader): boolean {
  return header.command === TrojanCommand.connect && header.destination.host === MUX_COOL.host;
}
