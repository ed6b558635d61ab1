/**
 * Test harness: starts the real `remote.ts` and `local.ts` as child processes with the same
 * permission sets the compiled programs get, plus loopback helpers (HTTP origins, free ports).
 */
import { fileURLToPath } from "node:url";
import { freePort } from "./_net.ts";
import { remoteInProcess } from "./_cli_in_process.ts";

export const ROOT = fileURLToPath(new URL("../", import.meta.url));
const DENO = Deno.execPath();

/**
 * This process's Deno cache, for programs given another `HOME`: Deno keeps its cache under
 * `$HOME/.cache/deno` (Linux; `~/Library/Caches/deno` on macOS) unless `DENO_DIR` says where,
 * so a program started with a fresh `HOME` would fetch every npm package again (about 120 MB,
 * seconds to minutes before it even starts, and no start at all offline).
 */
function denoDir(): string {
  const given = Deno.env.get("DENO_DIR");
  if (given) return given;
  const home = Deno.env.get("HOME") ?? "";
  if (Deno.build.os === "darwin") return `${home}/Library/Caches/deno`;
  return `${Deno.env.get("XDG_CACHE_HOME") || `${home}/.cache`}/deno`;
}

/** The environment of a spawned program: no colours, `env`, and the cache kept with a HOME. */
function childEnv(env: Record<string, string> = {}): Record<string, string> {
  return { NO_COLOR: "1", ...(env.HOME && !env.DENO_DIR ? { DENO_DIR: denoDir() } : {}), ...env };
}

/** How to spawn a {@linkcode Program}. */
export interface ProgramOptions {
  env?: Record<string, string>;
  cwd?: string;
  /** Most open file descriptors (`ulimit -n`). */
  nofile?: number;
  /** The program to run instead of `deno`. */
  command?: string;
}

/** A spawned program whose output is collected for assertions. */
export class Program {
  readonly child: Deno.ChildProcess;
  #output = "";
  #done: Promise<Deno.CommandStatus>;

  /**
   * Runs `deno` with `args`, or the program `command` names (trojan, v2ray); `nofile` runs it
   * under `ulimit -n nofile` (through bash).
   */
  constructor(args: string[], options: ProgramOptions = {}) {
    const program = options.command ?? DENO;
    const limited = options.nofile !== undefined;
    this.child = new Deno.Command(limited ? "bash" : program, {
      args: limited
        ? ["-c", `ulimit -n ${options.nofile} && exec "$0" "$@"`, program, ...args]
        : args,
      cwd: options.cwd ?? ROOT,
      env: childEnv(options.env),
      stdin: "null",
      stdout: "piped",
      stderr: "piped",
    }).spawn();
    const decoder = new TextDecoder();
    const collect = async (stream: ReadableStream<Uint8Array>) => {
      for await (const chunk of stream) this.#output += decoder.decode(chunk, { stream: true });
    };
    const streams = Promise.all([collect(this.child.stdout), collect(this.child.stderr)]);
    this.#done = this.child.status.then(async (status) => {
      await streams;
      return status;
    });
  }

  /** Everything printed so far on stdout and stderr. */
  get output(): string {
    return this.#output;
  }

  /** Waits until the output matches `pattern` (or the process exits, or `ms` pass). */
  async waitFor(pattern: RegExp, ms = 15_000): Promise<RegExpMatchArray> {
    const deadline = Date.now() + ms;
    let exited = false;
    this.#done.then(() => exited = true);
    while (Date.now() < deadline) {
      const match = this.#output.match(pattern);
      if (match) return match;
      if (exited) break;
      await delay(20);
    }
    throw new Error(`no ${pattern} in the output:\n${this.#output}`);
  }

  /** Sends a signal (if still running) and waits for the exit. */
  async stop(signal: Deno.Signal = "SIGTERM"): Promise<Deno.CommandStatus> {
    try {
      this.child.kill(signal);
    } catch {
      // already exited
    }
    return await this.#done;
  }

  /** Waits for the exit without signalling. */
  get status(): Promise<Deno.CommandStatus> {
    return this.#done;
  }
}

/** Runs a program to completion: exit code and output. */
export async function runProgram(
  args: string[],
  options: { env?: Record<string, string>; cwd?: string } = {},
): Promise<{ code: number; stdout: string; stderr: string }> {
  const out = await new Deno.Command(DENO, {
    args,
    cwd: options.cwd ?? ROOT,
    env: childEnv(options.env),
    stdin: "null",
  }).output();
  const text = new TextDecoder();
  return { code: out.code, stdout: text.decode(out.stdout), stderr: text.decode(out.stderr) };
}

/*
 * Each program's permissions are defined once, as the permission sets in deno.json: the
 * `deno task` entries, this harness and `deno task compile` all use them through -P=NAME.
 * Deno 2.9 prints "Permissions in the config file is an experimental feature" on every -P
 * run; -q silences only that kind of notice (errors and the program's own output still print),
 * so a new user's first `deno task` does not read as unfinished. The unstable `net` feature
 * (`Deno.listenDatagram`, for UDP) comes from deno.json's `"unstable"` the same way, for the
 * tasks, this harness and the compiled binaries alike (lib/common/udp/udp_socket.ts says why).
 */

/** `deno run` arguments for the remote, with its permission set. */
export function remoteArgs(...args: string[]): string[] {
  return ["run", "-q", "-P=remote", `${ROOT}remote.ts`, ...args];
}

/** `deno run` arguments for the local, with its permission set. */
export function localArgs(...args: string[]): string[] {
  return ["run", "-q", "-P=local", `${ROOT}local.ts`, ...args];
}

export function delay(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/**
 * Reads with `read` until `done` holds for what it read, every 200 ms for at most `ms`, and
 * resolves with the last value either way: the caller's assertion says what was expected.
 */
export async function readUntil<T>(
  read: () => Promise<T>,
  done: (value: T) => boolean,
  ms = 5_000,
): Promise<T> {
  let value = await read();
  for (const deadline = Date.now() + ms; !done(value) && Date.now() < deadline;) {
    await delay(200);
    value = await read();
  }
  return value;
}

/** A remote with a fresh data dir and users, serving on loopback. */
export class RemoteFixture {
  readonly dir: string;
  readonly port: number;
  program!: Program;

  private constructor(dir: string, port: number) {
    this.dir = dir;
    this.port = port;
  }

  /**
   * Creates the data dir, adds `users` (name → password), starts `serve --allow-private`.
   * `init` and `user add` run in this process (the CLI's own code, `_cli_in_process.ts`);
   * `serve` is the real program.
   */
  static async start(
    users: Record<string, string> = { alice: "alice-secret" },
    serveArgs: string[] = [],
    program: ProgramOptions = {},
  ): Promise<RemoteFixture> {
    const dir = await Deno.makeTempDir({ prefix: "swiftproxy-test-" });
    const fixture = new RemoteFixture(dir, freePort());
    await remoteInProcess("init", "--data", dir);
    for (const [name, password] of Object.entries(users)) {
      await fixture.user("add", name, "--password", password);
    }
    await fixture.serve(serveArgs, program);
    return fixture;
  }

  /** (Re)starts `serve` on the fixture's port. */
  async serve(serveArgs: string[] = [], program: ProgramOptions = {}): Promise<void> {
    this.program = new Program(
      remoteArgs(
        "serve",
        "--data",
        this.dir,
        "--listen",
        `127.0.0.1:${this.port}`,
        "--allow-private",
        ...serveArgs,
      ),
      program,
    );
    await this.program.waitFor(/listening on/);
  }

  /**
   * Runs a `user …` subcommand on this data dir, in this process (the CLI's own code, beside
   * the running `serve` as a spawned command would be); throws on failure.
   */
  user(...args: string[]): Promise<string> {
    return remoteInProcess("user", ...args, "--data", this.dir);
  }

  /**
   * Runs `swiftproxy-remote user …` as its own program on this data dir, for tests of the
   * program itself (several at once against the database `serve` is using); throws on failure.
   */
  async userProgram(...args: string[]): Promise<string> {
    const result = await runProgram(remoteArgs("user", ...args, "--data", this.dir));
    if (result.code !== 0) throw new Error(`user ${args.join(" ")} failed: ${result.stderr}`);
    return result.stdout;
  }

  get certPath(): string {
    return `${this.dir}/tls/cert.pem`;
  }

  get address(): string {
    return `127.0.0.1:${this.port}`;
  }

  async stop(): Promise<void> {
    await this.program?.stop();
    await Deno.remove(this.dir, { recursive: true }).catch(() => {});
  }
}

/**
 * Spawns `swiftproxy-local` on a free loopback port (the `--listen` is added) with `args` and
 * `password` in `SWIFTPROXY_PASSWORD` (and `env`); resolves once the proxy listens.
 */
export async function spawnLocal(
  args: string[],
  password = "alice-secret",
  env: Record<string, string> = {},
): Promise<{ program: Program; port: number }> {
  const port = freePort();
  const program = new Program(localArgs("--listen", `127.0.0.1:${port}`, ...args), {
    env: { SWIFTPROXY_PASSWORD: password, ...env },
  });
  await program.waitFor(/proxy on/);
  return { program, port };
}

/** A local connected to `remote` as `user`. */
export class LocalFixture {
  readonly port: number;
  readonly program: Program;

  private constructor(port: number, program: Program) {
    this.port = port;
    this.program = program;
  }

  static async start(
    remote: Pick<RemoteFixture, "address" | "certPath" | "dir">,
    user = "alice",
    password = "alice-secret",
    extraArgs: string[] = [],
  ): Promise<LocalFixture> {
    const { program, port } = await spawnLocal([
      "--remote",
      remote.address,
      "--user",
      user,
      "--ca",
      remote.certPath,
      // No dashboard port to fight over, and never the user's own settings file.
      "--no-ui",
      "--config",
      `${remote.dir}/local.json`,
      ...extraArgs,
    ], password);
    return new LocalFixture(port, program);
  }

  get address(): string {
    return `127.0.0.1:${this.port}`;
  }

  stop(): Promise<Deno.CommandStatus> {
    return this.program.stop();
  }
}

/** A remote and a local connected to it, for tests of the whole chain. */
export async function startChain(
  serveArgs: string[] = [],
  options: { users?: Record<string, string>; localArgs?: string[] } = {},
): Promise<{ remote: RemoteFixture; local: LocalFixture; stop(): Promise<void> }> {
  return chainTo(await RemoteFixture.start(options.users, serveArgs), options.localArgs);
}

/** A remote that a local can connect to and that the chain stops. */
export type ChainRemote = Pick<RemoteFixture, "address" | "certPath" | "dir" | "stop">;

/** Starts a local on a running `remote` as alice (stopping `remote` should that fail). */
export function chainTo<R extends ChainRemote>(
  remote: R,
  localArgs?: string[],
): Promise<{ remote: R; local: LocalFixture; stop(): Promise<void> }> {
  return pairWith(remote, (r) => LocalFixture.start(r, "alice", "alice-secret", localArgs));
}

/**
 * Starts a local with `startLocal` on a running `remote`, stopping `remote` should that fail;
 * the pair stops local first.
 */
export async function pairWith<
  R extends { stop(): Promise<unknown> },
  L extends { stop(): Promise<unknown> },
>(
  remote: R,
  startLocal: (remote: R) => Promise<L>,
): Promise<{ remote: R; local: L; stop(): Promise<void> }> {
  let local: L;
  try {
    local = await startLocal(remote);
  } catch (error) {
    await remote.stop();
    throw error;
  }
  return {
    remote,
    local,
    async stop() {
      await local.stop();
      await remote.stop();
    },
  };
}

/** Runs `curl` with `args`; returns exit code, stdout bytes and stderr text. */
export async function curl(
  ...args: string[]
): Promise<{ code: number; body: Uint8Array; stderr: string }> {
  const out = await new Deno.Command("curl", { args: ["-sS", "--max-time", "60", ...args] })
    .output();
  return { code: out.code, body: out.stdout, stderr: new TextDecoder().decode(out.stderr) };
}

/** True when `program` is on PATH; tests of real peers are skipped (visibly) without it. */
export function has(program: string): boolean {
  return new Deno.Command("sh", {
    args: ["-c", `command -v ${program}`],
    stdout: "null",
    stderr: "null",
  })
    .outputSync().success;
}

export { closeQuietly, freePort, startOrigin } from "./_net.ts";
export { randomBytes, sha256 } from "./_bytes.ts";
