/**
 * What the admin panel shows of each user: the stored row with the server's live view of it
 * (usage not yet written, rates, open connections and where they come from).
 */
import { TunnelSession } from "../users/accounts.ts";
import type { Account } from "../users/accounts.ts";
import { nextResetOf } from "../ops/monthly_reset.ts";
import { resetPeriodOf, userStatus } from "../users/user_view.ts";

/** One open connection as the panel lists it. */
export interface ConnectionView {
  id: number;
  command: string;
  client: string;
  destination: string;
  startedAt: number;
}

/** One user as the panel shows it (times in Unix milliseconds, rates in bytes/s). */
export interface UserView {
  name: string;
  status: string;
  enabled: boolean;
  upLimit: number;
  downLimit: number;
  quota: number;
  maxConns: number;
  expiresAt: number | null;
  resetDay: number;
  /** daily, weekly, monthly or yearly; null for no reset. */
  reset: string | null;
  /** On hold: milliseconds of access its first login starts; null once started, or for none. */
  expiresAfter: number | null;
  group: string | null;
  /** Distinct addresses at once (0: any). */
  maxIps: number;
  /** How many distinct addresses its tunnels are open from now, on every node. */
  places: number;
  lastResetAt: number | null;
  nextResetAt: number | null;
  bytesUp: number;
  bytesDown: number;
  used: number;
  rate: { up: number; down: number };
  openConns: number;
  /** Whether the user has a destination block list of their own. */
  blockList: boolean;
  /** Connections and datagrams refused by a block since the server started, by reason. */
  blocked: Record<string, number>;
  /** The distinct client addresses (without ports) of the open connections. */
  sources: string[];
  connections: ConnectionView[];
}

/** The connections of `account` the panel can list and disconnect. */
export function connectionsOf(account: Account): ConnectionView[] {
  const views: ConnectionView[] = [];
  for (const session of account.sessions) {
    if (!(session instanceof TunnelSession)) continue;
    views.push({
      id: session.id,
      command: session.command,
      client: session.client,
      destination: session.destination,
      startedAt: session.startedAt,
    });
  }
  return views;
}

/**
 * The panel's view of `account` at `now`, with its latest `rate`; at most `maxConnections`
 * connections are listed (all are counted).
 */
export function userView(
  account: Account,
  rate: { up: number; down: number },
  now = Date.now(),
  maxConnections = 100,
): UserView {
  const u = account.user;
  const bytesUp = account.usedUp;
  const bytesDown = account.usedDown;
  const connections = connectionsOf(account);
  return {
    name: u.name,
    status: userStatus({ ...u, bytesUp, bytesDown }, now),
    enabled: u.enabled,
    upLimit: u.upLimit,
    downLimit: u.downLimit,
    quota: u.quota,
    maxConns: u.maxConns,
    expiresAt: u.expiresAt,
    resetDay: u.resetDay ?? 0,
    reset: resetPeriodOf(u),
    expiresAfter: u.expiresAfter ?? null,
    group: u.group ?? null,
    maxIps: u.maxIps ?? 0,
    places: account.places().size,
    lastResetAt: u.lastResetAt ?? null,
    nextResetAt: nextResetOf(now, u),
    bytesUp,
    bytesDown,
    used: bytesUp + bytesDown,
    rate,
    openConns: account.sessions.size,
    blockList: Boolean(u.blockList),
    blocked: Object.fromEntries(account.blockedCounts),
    sources: [...new Set(connections.map((c) => c.client.replace(/:\d+$/, "")))],
    connections: connections.slice(0, maxConnections),
  };
}
