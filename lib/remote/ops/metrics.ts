/**
 * `GET /metrics` in the Prometheus text format: per-user transfer and connections read from
 * the accounts, connection results counted from the server's session events, the guards'
 * counters, and the process. A user's series go when the user does; no label holds an
 * address or a destination.
 */
import process from "node:process";
import { VERSION } from "../../version.ts";
import { bearerToken } from "../../common/web/guard.ts";
import { timingSafeEqual } from "../../common/security/timing_safe.ts";
import type { SessionEnd, SessionRefusal } from "../../common/ops/session_events.ts";
import type { RemoteServer } from "../tunnel/server.ts";

/** The `result` values always present (at 0 until they happen), so queries need no `or`. */
const RESULTS = [
  "ok",
  "auth_failed",
  "refused_account",
  "server_full",
  "refused_destination",
  "blocked",
  "dial_failed",
  "fallback",
  "bad_header",
  "handshake_timeout",
  "unused",
  "error",
];

/** What a finished session counts as: its dial's failure, or ok. */
function resultOf(end: SessionEnd): string {
  switch (end.outcome.kind) {
    case "not-allowed":
      return "refused_destination";
    case "blocked":
      return "blocked";
    case "unresolved":
    case "refused":
    case "unreachable":
      return "dial_failed";
    case "error":
      return "error";
    default:
      return "ok";
  }
}

/** Extra gauges from outside the tunnel server (the admin panel's own login guard). */
export interface ExtraGauge {
  name: string;
  help: string;
  value: () => number;
}

/**
 * The metrics of one running server, an observer of its session events.
 *
 * @example
 * const metrics = new RemoteMetrics(server);
 * return new Response(metrics.render(), { headers: { "content-type": METRICS_CONTENT_TYPE } });
 */
export class RemoteMetrics {
  readonly #server: RemoteServer;
  readonly #results = new Map<string, number>(RESULTS.map((r) => [r, 0]));
  readonly #unsubscribe: (() => void)[];
  readonly #extra: ExtraGauge[];
  readonly #startedAt = Date.now() / 1000;

  constructor(server: RemoteServer, extra: ExtraGauge[] = []) {
    this.#server = server;
    this.#extra = extra;
    this.#unsubscribe = [
      server.events.subscribe((end) => this.#count(resultOf(end))),
      server.events.subscribeRefusals((refusal: SessionRefusal) => this.#count(refusal.result)),
    ];
  }

  #count(result: string): void {
    this.#results.set(result, (this.#results.get(result) ?? 0) + 1);
  }

  /** The exposition text, as Prometheus scrapes it. */
  render(): string {
    const out = new Exposition();
    const accounts = this.#server.accounts.list();
    out.family(
      "swiftproxy_user_transfer_bytes_total",
      "counter",
      "Bytes relayed for a user by this process since it started (up: from the client).",
    );
    for (const a of accounts) {
      out.sample(
        "swiftproxy_user_transfer_bytes_total",
        { user: a.user.name, direction: "up" },
        a.sentUp,
      );
      out.sample(
        "swiftproxy_user_transfer_bytes_total",
        { user: a.user.name, direction: "down" },
        a.sentDown,
      );
    }
    // One gauge a user for each of these: the name, its help, and the account's value.
    const perUser: [string, string, (a: (typeof accounts)[number]) => number][] = [
      ["swiftproxy_user_connections", "A user's open tunnels.", (a) => a.sessions.size],
      [
        "swiftproxy_user_addresses",
        "Distinct addresses (an IPv6 /64 as one) a user's tunnels are open from, on every node.",
        (a) => a.places().size,
      ],
      ["swiftproxy_user_usage_bytes", "A user's usage counted against the quota.", (a) => a.used],
      ["swiftproxy_user_quota_bytes", "A user's quota, 0 for unlimited.", (a) => a.user.quota],
    ];
    for (const [name, help, value] of perUser) {
      out.family(name, "gauge", help);
      for (const a of accounts) out.sample(name, { user: a.user.name }, value(a));
    }
    out.family(
      "swiftproxy_user_blocked_total",
      "counter",
      "A user's connections and datagrams refused by a block list or the BitTorrent block, by reason.",
    );
    for (const a of accounts) {
      for (const [reason, n] of a.blockedCounts) {
        out.sample("swiftproxy_user_blocked_total", { user: a.user.name, reason }, n);
      }
    }
    out.family(
      "swiftproxy_connections_total",
      "counter",
      "Connections by how they ended or were refused.",
    );
    for (const [result, n] of this.#results) {
      out.sample("swiftproxy_connections_total", { result }, n);
    }
    out.gauge(
      "swiftproxy_open_connections",
      "Connections open now, tunnels and handshakes.",
      this.#server.connectionCount,
    );
    out.counter(
      "swiftproxy_handshake_evictions_total",
      "Connections closed to make room for new handshakes (a slowloris flood).",
      this.#server.handshakeEvictions,
    );
    out.gauge(
      "swiftproxy_auth_throttled_sources",
      "Source addresses cooling off after too many failed tunnel logins.",
      this.#server.guard.blocked(),
    );
    for (const gauge of this.#extra) out.gauge(gauge.name, gauge.help, gauge.value());
    out.family("swiftproxy_build_info", "gauge", "The running version.");
    out.sample("swiftproxy_build_info", { version: VERSION }, 1);
    processMetrics(out, this.#startedAt);
    return out.text();
  }

  /** Stops observing the server. */
  stop(): void {
    for (const unsubscribe of this.#unsubscribe) unsubscribe();
  }
}

/** The content type of the Prometheus text format. */
export const METRICS_CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8";

function processMetrics(out: Exposition, startedAt: number): void {
  const memory = Deno.memoryUsage();
  const cpu = process.cpuUsage();
  out.counter(
    "process_cpu_seconds_total",
    "User and system CPU time spent.",
    (cpu.user + cpu.system) / 1e6,
  );
  out.gauge("process_resident_memory_bytes", "Resident memory size.", memory.rss);
  out.gauge("process_heap_bytes", "JavaScript heap in use.", memory.heapUsed);
  out.gauge("process_start_time_seconds", "Start time of the process, Unix seconds.", startedAt);
  const fds = openFds();
  if (fds !== null) out.gauge("process_open_fds", "Open file descriptors.", fds);
}

/** Open file descriptors (Linux), or null where they cannot be counted. */
function openFds(): number | null {
  try {
    let count = 0;
    for (const _ of Deno.readDirSync("/proc/self/fd")) count++;
    return count;
  } catch {
    return null;
  }
}

/** Builds exposition text: a `# HELP`/`# TYPE` head per family, then its samples. */
class Exposition {
  readonly #lines: string[] = [];

  family(name: string, type: "counter" | "gauge", help: string): void {
    this.#lines.push(`# HELP ${name} ${help}`, `# TYPE ${name} ${type}`);
  }

  sample(name: string, labels: Record<string, string>, value: number): void {
    const pairs = Object.entries(labels).map(([k, v]) => `${k}="${escapeLabel(v)}"`);
    this.#lines.push(`${name}${pairs.length ? `{${pairs.join(",")}}` : ""} ${value}`);
  }

  gauge(name: string, help: string, value: number): void {
    this.family(name, "gauge", help);
    this.sample(name, {}, value);
  }

  counter(name: string, help: string, value: number): void {
    this.family(name, "counter", help);
    this.sample(name, {}, value);
  }

  text(): string {
    return this.#lines.join("\n") + "\n";
  }
}

function escapeLabel(value: string): string {
  return value.replaceAll("\\", "\\\\").replaceAll('"', '\\"').replaceAll("\n", "\\n");
}

/**
 * Whether `/metrics` may be read: always on a loopback listener (as Prometheus scrapes it
 * there), otherwise only with `Authorization: Bearer <token>`, and never without a token.
 *
 * @example metricsAllowed(request, false, "t0ken-t0ken")
 */
export function metricsAllowed(request: Request, loopback: boolean, token?: string): boolean {
  if (loopback) return true;
  const given = bearerToken(request);
  return token !== undefined && token !== "" && given !== undefined &&
    timingSafeEqual(given, token);
}
