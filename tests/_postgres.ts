/**
 * A throwaway PostgreSQL cluster for tests: Debian's `initdb` and `pg_ctl` in a temp dir, on
 * a free loopback port, run as the `postgres` user when the tests run as root (PostgreSQL
 * refuses root). One cluster per test file; each test takes its own database.
 */
import { tmpdir } from "node:os";
import postgres from "postgres";
import { freePort } from "./_harness.ts";

/** Where Debian (and most distributions) put the server binaries, newest first. */
function binDir(): string | undefined {
  const candidates: string[] = [];
  try {
    for (const entry of Deno.readDirSync("/usr/lib/postgresql")) {
      candidates.push(`/usr/lib/postgresql/${entry.name}/bin`);
    }
  } catch {
    // not Debian's layout
  }
  candidates.sort((a, b) => parseInt(b.split("/")[4]!) - parseInt(a.split("/")[4]!));
  for (const dir of candidates) {
    try {
      Deno.statSync(`${dir}/initdb`);
      return dir;
    } catch {
      // next
    }
  }
  return undefined;
}

const BIN = binDir();

/** Why PostgreSQL tests are skipped here, or undefined when they can run. */
export const POSTGRES_MISSING = BIN
  ? undefined
  : "PostgreSQL is not installed (apt-get install postgresql); skipping";

if (POSTGRES_MISSING) console.warn(POSTGRES_MISSING);

const ROOT_USER = Deno.uid?.() === 0;

/** A new temp dir, owned by `postgres` when the tests run as root. */
async function ownedTempDir(prefix: string): Promise<string> {
  const dir = await Deno.makeTempDir({ prefix });
  if (ROOT_USER) {
    const id = new TextDecoder().decode(
      (await new Deno.Command("id", { args: ["-u", "postgres"] }).output()).stdout,
    ).trim();
    Deno.chownSync(dir, Number(id), null);
  }
  return dir;
}

/**
 * The data directory every cluster starts as: one `initdb` (user `swiftproxy`, trust, UTF-8)
 * for all the test files of this machine and PostgreSQL version, kept in the temp dir between
 * runs. Written aside and renamed into place, so a file that finds it finds it whole; files
 * that start together may each run `initdb` once, and the first rename wins.
 */
async function template(): Promise<string> {
  const version = BIN!.split("/")[4];
  const path = `${tmpdir()}/swiftproxy-pg-template-${version}-${Deno.uid?.() ?? 0}`;
  try {
    await Deno.stat(`${path}/PG_VERSION`);
    return path;
  } catch {
    // not made yet
  }
  const aside = await ownedTempDir("swiftproxy-pg-initdb-");
  await run([
    `${BIN}/initdb`,
    "-D",
    `${aside}/data`,
    "-U",
    "swiftproxy",
    "-A",
    "trust",
    "-E",
    "UTF8",
    "--no-sync",
  ], aside);
  await Deno.rename(`${aside}/data`, path).catch(() => {}); // another file's came first
  await Deno.remove(aside, { recursive: true }).catch(() => {});
  return path;
}

async function run(args: [string, ...string[]], cwd: string): Promise<string> {
  const [program, ...rest] = args;
  const command = ROOT_USER
    ? new Deno.Command("runuser", { args: ["-u", "postgres", "--", program, ...rest], cwd })
    : new Deno.Command(program, { args: rest, cwd });
  const out = await command.output();
  const text = new TextDecoder().decode(out.stdout) + new TextDecoder().decode(out.stderr);
  if (!out.success) throw new Error(`${args.join(" ")} failed:\n${text}`);
  return text;
}

/** A running (or stopped) throwaway cluster. */
export class PgCluster {
  readonly dir: string;
  readonly port: number;
  #databases = 0;

  private constructor(dir: string, port: number) {
    this.dir = dir;
    this.port = port;
  }

  /**
   * A fresh cluster, started: trust authentication, loopback only, no fsync. Its files are a
   * copy of {@linkcode template}'s (a copy costs a tenth of the CPU of an `initdb`).
   */
  static async start(): Promise<PgCluster> {
    if (!BIN) throw new Error(POSTGRES_MISSING);
    const dir = await ownedTempDir("swiftproxy-pg-");
    await run(["cp", "-a", await template(), `${dir}/data`], dir);
    const cluster = new PgCluster(dir, freePort());
    await cluster.resume();
    return cluster;
  }

  /** Starts the server again (after {@linkcode pause}), on the same port. */
  async resume(): Promise<void> {
    await run([
      `${BIN}/pg_ctl`,
      "-D",
      `${this.dir}/data`,
      "-l",
      `${this.dir}/log`,
      "-w",
      "-o",
      `-c listen_addresses=127.0.0.1 -p ${this.port} -k ${this.dir} -c fsync=off ` +
      `-c full_page_writes=off -c max_connections=200`,
      "start",
    ], this.dir);
  }

  /** Stops the server at once (open connections are cut), keeping its data. */
  async pause(): Promise<void> {
    await run(
      [`${BIN}/pg_ctl`, "-D", `${this.dir}/data`, "-m", "immediate", "-w", "stop"],
      this.dir,
    )
      .catch(() => {});
  }

  /** The URL of database `name` on this cluster. */
  url(name = "postgres"): string {
    return `postgres://swiftproxy@127.0.0.1:${this.port}/${name}`;
  }

  /** Creates a new empty database and returns its URL. */
  async createDatabase(): Promise<{ url: string; name: string }> {
    const name = `t${++this.#databases}_${crypto.randomUUID().slice(0, 8)}`;
    await this.sql(`CREATE DATABASE ${name}`);
    return { url: this.url(name), name };
  }

  /** Drops database `name`, cutting its connections. */
  async dropDatabase(name: string): Promise<void> {
    await this.sql(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
  }

  /** Runs one statement as the superuser, on database `database`. */
  async sql(statement: string, database = "postgres"): Promise<Record<string, unknown>[]> {
    const sql = postgres(this.url(database), { max: 1, onnotice: () => {} });
    try {
      return [...await sql.unsafe(statement)];
    } finally {
      await sql.end({ timeout: 1 });
    }
  }

  /** Stops the server and removes its files. */
  async stop(): Promise<void> {
    await this.pause();
    await Deno.remove(this.dir, { recursive: true }).catch(() => {});
  }
}

function stopSync(cluster: PgCluster): void {
  const args = ["-D", `${cluster.dir}/data`, "-m", "immediate", "stop"];
  (ROOT_USER
    ? new Deno.Command("runuser", { args: ["-u", "postgres", "--", `${BIN}/pg_ctl`, ...args] })
    : new Deno.Command(`${BIN}/pg_ctl`, { args })).outputSync();
  try {
    Deno.removeSync(cluster.dir, { recursive: true });
  } catch {
    // already gone
  }
}

/**
 * A cluster for a test file, stopped when the test process unloads (so no server outlives
 * it, even when a test fails).
 *
 * @example const cluster = await startCluster();
 */
export async function startCluster(): Promise<PgCluster> {
  const cluster = await PgCluster.start();
  globalThis.addEventListener("unload", () => stopSync(cluster));
  return cluster;
}
