/**
 * What `serve` runs beside the tunnels for the admin: the usage sampler and history, the
 * monthly resets, the alerts, and (with `--admin`) the panel. Each observes the server's
 * accounts and events; none is in the data path.
 */
import type { Destination } from "../../protocol/address.ts";
import { Alerts } from "../ops/alerts.ts";
import type { AlertOptions } from "../ops/alerts.ts";
import { AdminServer } from "../admin/server.ts";
import type { SessionOptions } from "../admin/sessions.ts";
import { MonthlyReset } from "../ops/monthly_reset.ts";
import type { RemoteServer } from "../tunnel/server.ts";
import { UsageHistory } from "../ops/usage_history.ts";
import { UsageSampler } from "../ops/usage_sampler.ts";
import type { Clock } from "../ops/usage_sampler.ts";
import type { UserStore } from "../store/user_store.ts";

/** What to run; everything but the sampler, history and resets is optional. */
export interface HousekeepingOptions {
  /** The panel's address (`--admin`); no panel without it. */
  admin?: Destination;
  /** The tunnel's certificate and key, for a panel off loopback. */
  tls?: { cert: string; key: string };
  metricsToken?: string;
  /** `--notify-url`: where alerts are posted (they are logged either way only with it). */
  notifyUrl?: string;
  alerts?: Omit<AlertOptions, "url" | "clock">;
  sessions?: SessionOptions;
  /** Milliseconds between history writes (5 s), 0 to write only on stop. */
  historyWriteMs?: number;
  /** Milliseconds between reset checks (1 min), 0 for none but {@linkcode MonthlyReset.check}. */
  resetCheckMs?: number;
  clock?: Clock;
}

/** The running pieces, to reach in tests and to stop together. */
export interface Housekeeping {
  sampler: UsageSampler;
  history: UsageHistory;
  resets: MonthlyReset;
  alerts?: Alerts;
  admin?: AdminServer;
  /** Stops them all, writing the last of the history. */
  stop(): Promise<void>;
}

/**
 * Starts the admin's side of `server`.
 *
 * @throws {AdminConfigError} for a panel off loopback without TLS
 * @throws {Deno.errors.AddrInUse} when the panel's port is taken
 * @example const side = startHousekeeping(server, store, { admin: { host: "127.0.0.1", port: 9091 } });
 */
export function startHousekeeping(
  server: RemoteServer,
  store: UserStore,
  options: HousekeepingOptions = {},
): Housekeeping {
  const clock = options.clock ?? Date.now;
  const sampler = new UsageSampler(server.accounts, { clock });
  const history = new UsageHistory(store, sampler, { clock, writeEveryMs: options.historyWriteMs });
  const resets = new MonthlyReset(store, server.accounts, {
    clock,
    intervalMs: options.resetCheckMs,
  });
  // The first check at once: a restart on (or after) a reset day resets without waiting.
  resets.check();
  const alerts = options.notifyUrl
    ? new Alerts(store, server.accounts, { ...options.alerts, url: options.notifyUrl, clock })
    : undefined;
  let admin: AdminServer | undefined;
  try {
    admin = options.admin
      ? new AdminServer({
        listen: options.admin,
        server,
        store,
        sampler,
        tls: options.tls,
        metricsToken: options.metricsToken,
        sessions: options.sessions,
      })
      : undefined;
  } catch (error) {
    sampler.stop();
    history.stop();
    resets.stop();
    alerts?.stop();
    throw error;
  }
  return {
    sampler,
    history,
    resets,
    alerts,
    admin,
    async stop() {
      sampler.stop();
      sampler.sample();
      await admin?.stop();
      await alerts?.stop();
      await resets.stop();
      await history.stop();
    },
  };
}
