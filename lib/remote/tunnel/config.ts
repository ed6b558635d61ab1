/** What `serve` needs, typed once and passed whole to the server, and its defaults. */
import type { Destination } from "../../protocol/address.ts";
import type { DestinationPolicy } from "../egress/destination.ts";
import type { AuthGuardOptions } from "../users/auth_guard.ts";
import type { UserStore } from "../store/user_store.ts";
import type { UsageOutbox } from "../store/usage_spool.ts";
import type { LinkVault } from "../share/link_vault.ts";
import type { ClientRulesSetting } from "../share/client_rules_setting.ts";
import type { SubscriptionOptions } from "../share/subscription.ts";
import type { BlockList } from "../../rules/block_list.ts";

/** Everything {@linkcode RemoteServer} needs. */
export interface RemoteConfig {
  listen: Destination;
  /** TLS certificate chain and key, PEM. */
  cert: string;
  key: string;
  store: UserStore;
  /** Where usage goes on its way to the store (numbered per node); default: straight there. */
  outbox?: UsageOutbox;
  policy: DestinationPolicy;
  /** Destinations refused for every user (`--block FILE`), by name and by address. */
  block?: BlockList;
  /** Refuse BitTorrent by its first bytes, TCP and UDP (`--block-bittorrent`). */
  blockBittorrent: boolean;
  /** Where connections without a valid header are relayed, if anywhere. */
  fallback?: Destination;
  /** Most connections open at once, 0 for no limit. */
  maxConns: number;
  /** Most connections one user may hold when the user has no `max-conns` of its own; 0: no limit. */
  userMaxConns: number;
  handshakeTimeoutMs: number;
  /** Tunnels with no traffic either way for this long are closed; 0 for never. */
  idleTimeoutMs: number;
  /** UDP associations with no datagram either way for this long are closed; 0 for never. */
  udpTimeoutMs: number;
  /** Most connections in TLS/header handshake at once (the oldest make room); 0 for no cap. */
  maxHandshakes: number;
  /** Failed logins allowed per source address before it cools off. */
  authGuard: AuthGuardOptions;
  /** Where the admin panel keeps what reprinting a user's link takes (the data directory's). */
  linkVault?: LinkVault;
  /** The client rules every subscription carries (`--client-rules`, the panel), if set up. */
  clientRules?: ClientRulesSetting;
  /** What every subscription answer says beside the document (title, update interval, help). */
  subscriptions: SubscriptionOptions;
}

/** The parts of a {@linkcode RemoteConfig} that have a default. */
export type RemoteDefaults = Omit<
  RemoteConfig,
  "cert" | "key" | "store" | "fallback" | "outbox" | "block" | "linkVault" | "clientRules"
>;

/**
 * The defaults of `serve` (and of its `--help`): a complete config is these plus a
 * certificate, a key and a store.
 *
 * @example new RemoteServer({ ...REMOTE_DEFAULTS, cert, key, store });
 */
export const REMOTE_DEFAULTS: Readonly<RemoteDefaults> = Object.freeze({
  listen: Object.freeze({ host: "0.0.0.0", port: 8443 }),
  policy: Object.freeze({ allowPrivate: false, allow: [], deny: [] }),
  blockBittorrent: false,
  // Sized for a small server (a family, a class): a browser holds 20-30 connections during a
  // page load and a phone or game a few more, so 128 lets a user's several devices work at once
  // while one account cannot take the server's descriptors (each connection holds two: its
  // tunnel and its destination). 1024 such connections fit the 65,536 files the systemd unit
  // allows many times over, and a common `ulimit -n` of 4096 too, with room for the admin panel.
  maxConns: 1024,
  userMaxConns: 128,
  handshakeTimeoutMs: 10_000,
  idleTimeoutMs: 300_000,
  udpTimeoutMs: 60_000,
  maxHandshakes: 1024,
  authGuard: Object.freeze({ limit: 20, coolOffMs: 600_000 }),
  // Twice a day: usage bars stay fresh enough, and a phone does not wake for it every hour.
  subscriptions: Object.freeze({ updateHours: 12 }),
});
