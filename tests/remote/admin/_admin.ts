/**
 * Admin-side test helpers: an in-process remote with its housekeeping (panel, history,
 * resets, alerts) on loopback, an admin password set, and an HTTP client that behaves like
 * the panel's page (its Origin, the session cookie, the CSRF token).
 */
import { InProcessRemote } from "../../_inprocess.ts";
import { startHousekeeping } from "../../../lib/remote/serve/housekeeping.ts";
import type { Housekeeping, HousekeepingOptions } from "../../../lib/remote/serve/housekeeping.ts";
import { hashPassword } from "../../../lib/remote/admin/password_hash.ts";
import type { RemoteConfig } from "../../../lib/remote/tunnel/config.ts";

export const ADMIN_PASSWORD = "correct horse battery";

/** A remote in this process with its admin side. */
export interface AdminFixture {
  remote: InProcessRemote;
  side: Housekeeping;
  /** `http://127.0.0.1:PORT` of the panel. */
  origin: string;
  stop(): Promise<void>;
}

/** Starts a remote with `users` and its admin side (panel on a free loopback port). */
export async function startAdmin(
  options: HousekeepingOptions = {},
  users: Record<string, string> = { alice: "alice-secret" },
  config: Partial<RemoteConfig> = {},
): Promise<AdminFixture> {
  const remote = await InProcessRemote.start(users, config);
  await remote.store.setAdminPasswordHash(await hashPassword(ADMIN_PASSWORD));
  const side = startHousekeeping(remote.server, remote.store, {
    admin: { host: "127.0.0.1", port: 0 },
    ...options,
  });
  const origin = `http://127.0.0.1:${side.admin!.addr.port}`;
  return {
    remote,
    side,
    origin,
    async stop() {
      await side.stop();
      await remote.stop();
    },
  };
}

/** What an API call answered. */
export interface Reply {
  status: number;
  // deno-lint-ignore no-explicit-any
  body: any;
  headers: Headers;
}

/**
 * A connection per request: a kept-alive connection that the panel closes (idle, or shed while
 * the machine is so busy that its listener looks stalled) just as the next request goes out
 * fails that request ("connection closed before message completed", once in a loaded full
 * run). A browser sends such a request again; these tests are about the answers, not that race.
 */
const unpooled = Deno.createHttpClient({ poolMaxIdlePerHost: 0 });

/** A client of the panel as its page is: same Origin, the cookie, the CSRF token. */
export class AdminClient {
  readonly origin: string;
  cookie = "";
  csrf = "";

  constructor(origin: string) {
    this.origin = origin;
  }

  /** Logs in with `password` (and a `name`, a `code`); keeps the cookie and token. */
  async login(
    password = ADMIN_PASSWORD,
    more: { name?: string; code?: string } = {},
  ): Promise<Reply> {
    const reply = await this.call("POST", "/api/login", { password, ...more });
    if (reply.status === 200) {
      this.cookie = reply.headers.get("set-cookie")!.split(";")[0]!;
      this.csrf = reply.body.csrf;
    }
    return reply;
  }

  /** One request; `headers` override the page's own (`null` leaves one out). */
  async call(
    method: string,
    path: string,
    body?: unknown,
    headers: Record<string, string | null> = {},
  ): Promise<Reply> {
    const all: Record<string, string | null> = {
      origin: this.origin,
      ...(this.cookie ? { cookie: this.cookie } : {}),
      ...(this.csrf ? { "x-csrf-token": this.csrf } : {}),
      ...(body === undefined ? {} : { "content-type": "application/json" }),
      ...headers,
    };
    const response = await fetch(this.origin + path, {
      client: unpooled,
      method,
      headers: Object.fromEntries(Object.entries(all).filter(([, v]) => v !== null)) as Record<
        string,
        string
      >,
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    const text = await response.text();
    let parsed: unknown = text;
    try {
      parsed = JSON.parse(text);
    } catch {
      // not JSON: keep the text
    }
    return { status: response.status, body: parsed, headers: response.headers };
  }
}

/** The value of one sample in Prometheus text, or undefined. */
export function sample(metrics: string, series: string): number | undefined {
  for (const line of metrics.split("\n")) {
    if (line.startsWith(`${series} `)) return Number(line.slice(series.length + 1));
  }
  return undefined;
}
