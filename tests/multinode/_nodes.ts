/**
 * Many real `serve --node` processes on one throwaway PostgreSQL database, each with its own
 * data directory (certificate, cache, spool), and the user-visible checks the tests make
 * through them: the real `user`/`node` commands, and a login check through one node.
 */

import { encodeTrojanHeader, TrojanCommand, trojanToken } from "../../lib/protocol/trojan.ts";
import { decodeAccountStatus } from "../../lib/protocol/account_status.ts";
import { LocalFixture, Program, remoteArgs } from "../_harness.ts";
import { freePort } from "../_harness.ts";
import { remoteInProcess } from "../_cli_in_process.ts";
import { type PgCluster, startCluster } from "../_postgres.ts";

/** One `serve --node NAME` process. */
export class NodeFixture {
  readonly name: string;
  readonly dir: string;
  readonly port: number;
  /** The environment every command of this node gets: the database URL. */
  readonly env: { SWIFTPROXY_DB: string };
  program!: Program;

  constructor(name: string, dir: string, env: { SWIFTPROXY_DB: string }) {
    this.name = name;
    this.dir = dir;
    this.port = freePort();
    this.env = env;
  }

  /** Starts `serve` (again) and waits until it listens. */
  async serve(extra: string[] = []): Promise<void> {
    this.program = new Program(
      remoteArgs(
        "serve",
        "--data",
        this.dir,
        "--node",
        this.name,
        "--listen",
        this.address,
        "--allow-private",
        "--grace",
        "0",
        ...extra,
      ),
      { env: this.env },
    );
    await this.program.waitFor(/listening on/);
  }

  get address(): string {
    return `127.0.0.1:${this.port}`;
  }

  get certPath(): string {
    return `${this.dir}/tls/cert.pem`;
  }

  /** Stops the node; its data directory stays until the set is stopped. */
  async stop(): Promise<void> {
    await this.program?.stop();
  }
}

/** A database and `count` nodes on it. */
export class NodeSet {
  readonly url: string;
  readonly database: string;
  readonly nodes: NodeFixture[];
  readonly #cluster: PgCluster;

  private constructor(cluster: PgCluster, url: string, database: string, nodes: NodeFixture[]) {
    this.#cluster = cluster;
    this.url = url;
    this.database = database;
    this.nodes = nodes;
  }

  /** The environment every command gets: the database URL in `SWIFTPROXY_DB`. */
  get env(): Record<string, string> {
    return { SWIFTPROXY_DB: this.url };
  }

  /**
   * Creates a database, `init`s `count` data directories, adds `users`, runs `prepare` and
   * starts the nodes, each with the `serve` arguments `extra` gives for it.
   */
  static async start(
    cluster: PgCluster,
    count: number,
    users: Record<string, string> = { alice: "alice-secret" },
    options: {
      prepare?: (set: NodeSet) => Promise<void>;
      extra?: (node: NodeFixture) => string[];
    } = {},
  ): Promise<NodeSet> {
    const { url, name } = await cluster.createDatabase();
    const env = { SWIFTPROXY_DB: url };
    const nodes: NodeFixture[] = [];
    for (let i = 1; i <= count; i++) {
      const dir = await Deno.makeTempDir({ prefix: `swiftproxy-node${i}-` });
      nodes.push(new NodeFixture(`node${i}`, dir, env));
    }
    const set = new NodeSet(cluster, url, name, nodes);
    for (const node of nodes) await remoteInProcess("init", "--data", node.dir, "--db", url);
    for (const [user, password] of Object.entries(users)) {
      await set.remote("user", "add", user, "--password", password);
    }
    await options.prepare?.(set);
    await Promise.all(nodes.map((node) => node.serve(options.extra?.(node))));
    return set;
  }

  /** Runs an SQL statement on the shared database, as its owner. */
  sql(statement: string): Promise<Record<string, unknown>[]> {
    return this.#cluster.sql(statement, this.database);
  }

  /**
   * Waits until `user`'s download usage in the database (on `node`, or in total) is `bytes`,
   * up to `ms`: the nodes write usage about once a second, so this replaces a fixed wait. It
   * returns either way; the caller's assertion says what the database holds.
   */
  async usageLands(user: string, bytes: number, node?: string, ms = 10_000): Promise<void> {
    const query = node === undefined
      ? `SELECT bytes_down FROM users WHERE name = '${user}'`
      : `SELECT n.bytes_down FROM node_usage n JOIN users u ON u.id = n.user_id
         WHERE u.name = '${user}' AND n.node = '${node}'`;
    const deadline = Date.now() + ms;
    while (Date.now() < deadline) {
      const [row] = await this.sql(query).catch(() => []);
      if (Number(row?.bytes_down) === bytes) return;
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
  }

  /**
   * Waits until the nodes have written all of `user`'s usage: its total in the database stays
   * the same for 1.5 s (they write about once a second), up to 10 s. A transfer that just
   * ended is still being counted until then, so a reset right after it would be added to.
   */
  async usageSettles(user: string): Promise<void> {
    const query = `SELECT bytes_up + bytes_down AS total FROM users WHERE name = '${user}'`;
    let last: unknown;
    let since = Date.now();
    for (const deadline = Date.now() + 10_000; Date.now() < deadline;) {
      const [row] = await this.sql(query).catch(() => []);
      if (String(row?.total) !== String(last)) [last, since] = [row?.total, Date.now()];
      else if (Date.now() - since >= 1_500) return;
      await new Promise((resolve) => setTimeout(resolve, 250));
    }
  }

  /**
   * Runs a `swiftproxy-remote` command on the shared database, in this process (the CLI's own
   * code, `_cli_in_process.ts`: the commands are setup here, the nodes what is tested);
   * throws on failure.
   */
  remote(...args: string[]): Promise<string> {
    return remoteInProcess(...args, "--data", this.nodes[0]!.dir, "--db", this.url);
  }

  /** `remote("user", …)`, so a node set can stand in for a remote in `userRow`. */
  user(...args: string[]): Promise<string> {
    return this.remote("user", ...args);
  }

  /** Stops every node and drops the database. */
  async stop(): Promise<void> {
    await Promise.all(this.nodes.map((n) => n.stop()));
    for (const n of this.nodes) await Deno.remove(n.dir, { recursive: true }).catch(() => {});
    await this.#cluster.dropDatabase(this.database).catch(() => {});
  }
}

/**
 * Whether `node` lets `user` in now: an account-status request through a real TLS tunnel,
 * answered with a document that names no refusal (a closed account's says why), or closed
 * without a byte (a wrong login).
 */
export async function loginWorks(node: NodeFixture, user: string, password: string) {
  const conn = await Deno.connectTls({
    hostname: "127.0.0.1",
    port: node.port,
    caCerts: [Deno.readTextFileSync(node.certPath)],
  });
  try {
    await conn.write(encodeTrojanHeader({
      token: trojanToken(`${user}:${password}`),
      command: TrojanCommand.connect,
      destination: { host: "status.swiftproxy.invalid", port: 1 },
    }));
    const buffer = new Uint8Array(4096);
    const n = await conn.read(buffer).catch(() => null);
    if (n === null || n === 0) return false;
    return !decodeAccountStatus(buffer.subarray(0, n))?.refusal;
  } finally {
    try {
      conn.close();
    } catch {
      // closed by the node
    }
  }
}

/**
 * `count` nodes on a new database and a local on each, started at the first call and shared by
 * the tests of the file that made the getter (its last test stops them).
 */
export function nodesOnceForFile(count: number) {
  let shared: Promise<{ set: NodeSet; locals: LocalFixture[] }> | undefined;
  return () =>
    shared ??= (async () => {
      const set = await NodeSet.start(await startCluster(), count);
      const locals = await Promise.all(set.nodes.map((n) => LocalFixture.start(n)));
      return { set, locals };
    })();
}
