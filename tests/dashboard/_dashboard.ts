/**
 * Dashboard test helpers: a `local.ts` started with only its dashboard (no remote yet), a
 * settings file in a temp dir, and small HTTP/WebSocket clients that send the right headers.
 */
import { freePort, localArgs, Program, RemoteFixture } from "../_harness.ts";
import type { StatusMessage } from "../../lib/local/dashboard/server.ts";

export type { StatusMessage };

/** A local serving its dashboard on a free loopback port, with its own settings file. */
export class DashboardFixture {
  readonly dir: string;
  readonly port: number;
  readonly program: Program;

  private constructor(dir: string, port: number, program: Program) {
    this.dir = dir;
    this.port = port;
    this.program = program;
  }

  /** Starts `local.ts --ui 127.0.0.1:PORT --config DIR/local.json ...extraArgs`. */
  static async start(
    extraArgs: string[] = [],
    settings?: unknown,
    env?: Record<string, string>,
  ): Promise<DashboardFixture> {
    const dir = await Deno.makeTempDir({ prefix: "swiftproxy-dashboard-" });
    if (settings) await Deno.writeTextFile(`${dir}/local.json`, JSON.stringify(settings));
    const port = freePort();
    const program = new Program(
      localArgs("--ui", `127.0.0.1:${port}`, "--config", `${dir}/local.json`, ...extraArgs),
      { env },
    );
    await program.waitFor(/dashboard on/);
    return new DashboardFixture(dir, port, program);
  }

  get origin(): string {
    return `http://127.0.0.1:${this.port}`;
  }

  get settingsPath(): string {
    return `${this.dir}/local.json`;
  }

  /** POSTs JSON to an API path the way the page does. */
  // deno-lint-ignore no-explicit-any
  async post(path: string, body: unknown = {}): Promise<{ status: number; body: any }> {
    const response = await fetch(this.origin + path, {
      method: "POST",
      headers: { "content-type": "application/json", origin: this.origin },
      body: JSON.stringify(body),
    });
    return { status: response.status, body: await response.json() };
  }

  /** Opens the status WebSocket with the dashboard's own Origin. */
  socket(): StatusSocket {
    return new StatusSocket(`ws://127.0.0.1:${this.port}/ws`, this.origin);
  }

  async stop(): Promise<void> {
    await this.program.stop();
    await Deno.remove(this.dir, { recursive: true }).catch(() => {});
  }
}

/** A WebSocket client that keeps every status message it receives. */
export class StatusSocket {
  readonly socket: WebSocket;
  readonly messages: { at: number; size: number; status: StatusMessage }[] = [];
  readonly opened: Promise<void>;

  constructor(url: string, origin: string) {
    // Deno's WebSocket takes headers as a second-argument option (not in the DOM typings).
    this.socket = new WebSocket(url, { headers: { origin } } as unknown as string[]);
    this.opened = new Promise((resolve, reject) => {
      this.socket.onopen = () => resolve();
      this.socket.onerror = (event) => reject(new Error((event as ErrorEvent).message));
    });
    this.socket.onmessage = (event) => {
      const text = String(event.data);
      this.messages.push({ at: performance.now(), size: text.length, status: JSON.parse(text) });
    };
  }

  /** Waits for a message (a new one, after those seen so far) that satisfies `test`. */
  async next(
    test: (status: StatusMessage) => boolean = () => true,
    ms = 20_000,
  ): Promise<StatusMessage> {
    const from = this.messages.length;
    const deadline = Date.now() + ms;
    while (Date.now() < deadline) {
      const found = this.messages.slice(from).find((m) => test(m.status));
      if (found) return found.status;
      await new Promise((r) => setTimeout(r, 25));
    }
    const latest = this.messages.at(-1)?.status;
    throw new Error(
      `no matching status message within ${ms} ms; the last: ${
        JSON.stringify(latest)?.slice(0, 600)
      }`,
    );
  }

  close(): Promise<void> {
    if (this.socket.readyState === WebSocket.CLOSED) return Promise.resolve();
    const closed = new Promise<void>((resolve) =>
      this.socket.addEventListener("close", () => resolve())
    );
    this.socket.close();
    return closed;
  }
}

/** Whether something accepts TCP connections on `port` of 127.0.0.1. */
export async function accepts(port: number): Promise<boolean> {
  try {
    const conn = await Deno.connect({ hostname: "127.0.0.1", port });
    conn.close();
    return true;
  } catch {
    return false;
  }
}

/** The form's fields for alice on `remote`, with the proxy on `listenPort`. */
export function aliceForm(remote: RemoteFixture, listenPort: number, password = "alice-secret") {
  return {
    listen: `127.0.0.1:${listenPort}`,
    remote: remote.address,
    ca: remote.certPath,
    user: "alice",
    password,
  };
}

/** A whole `/api/connect` body for alice (no server name, password not remembered). */
export function loginFor(remote: RemoteFixture, listenPort: number, password = "alice-secret") {
  return { ...aliceForm(remote, listenPort, password), serverName: "", remember: false };
}

let fileRemoteOnce: Promise<RemoteFixture> | undefined;

/**
 * One remote for every test of a file (each test starts its own dashboard): alice, with the
 * `user set` arguments `limits` of the first call. The file's last test calls
 * {@linkcode stopFileRemote}.
 */
export function fileRemote(limits: string[] = []): Promise<RemoteFixture> {
  return fileRemoteOnce ??= (async () => {
    const remote = await RemoteFixture.start();
    if (limits.length > 0) await remote.user("set", "alice", ...limits);
    return remote;
  })();
}

/** Stops the file's remote, if {@linkcode fileRemote} started it. */
export async function stopFileRemote(): Promise<void> {
  const started = fileRemoteOnce;
  fileRemoteOnce = undefined;
  await (await started)?.stop();
}
