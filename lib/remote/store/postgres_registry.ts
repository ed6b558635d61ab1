/**
 * The nodes' registry in the PostgreSQL database they share: each node's run and heartbeat, the
 * loads it reports of its users (rates, demand, the addresses of the device limit), and the
 * notifications that tell every node of a change at once. It shares the users store's
 * connections ({@linkcode PostgresStore.registry}) and knows nothing of users beyond their ids.
 */
import type postgres from "postgres";
import { NODE_ALIVE_MS } from "./node_registry.ts";
import type { Heartbeat, NodeBeat, NodeInfo, NodeRegistry, NodeUsage } from "./node_registry.ts";

/** The channel a change to users is announced on. */
export const CHANGES_CHANNEL = "swiftproxy_users";
/** The channel a node announces a change in its users' load on (its name the payload). */
export const LOAD_CHANNEL = "swiftproxy_load";

const ALIVE = `interval '${NODE_ALIVE_MS} milliseconds'`;

/** A {@linkcode NodeRegistry} on a PostgreSQL connection pool. */
export class PostgresRegistry implements NodeRegistry {
  readonly #sql: postgres.Sql;

  /** The registry on `sql` (the users store's pool). */
  constructor(sql: postgres.Sql) {
    this.#sql = sql;
  }

  async register(beat: NodeBeat): Promise<{ seenMsAgo: number; startedAt: number } | undefined> {
    const [row] = await this.#sql`
      SELECT started_at, (extract(epoch FROM now() - seen_at) * 1000)::bigint AS age
      FROM nodes WHERE name = ${beat.name}`;
    if (row && row.started_at !== beat.startedAt && (row.age as number) < NODE_ALIVE_MS) {
      return { seenMsAgo: row.age as number, startedAt: row.started_at as number };
    }
    await this.#sql.begin(async (sql) => {
      await this.#beat(sql, beat);
      // What a previous run of this node left open is closed now.
      await sql`UPDATE node_usage SET open_conns = 0 WHERE node = ${beat.name}`;
    });
    return undefined;
  }

  async #beat(sql: postgres.TransactionSql, beat: NodeBeat): Promise<void> {
    await sql`
      INSERT INTO nodes (name, listen, version, started_at, seen_at, open_conns, rate_up,
        rate_down)
      VALUES (${beat.name}, ${beat.listen}, ${beat.version}, ${beat.startedAt}, now(),
        ${beat.openConns}, ${beat.rateUp}, ${beat.rateDown})
      ON CONFLICT (name) DO UPDATE SET listen = excluded.listen, version = excluded.version,
        started_at = excluded.started_at, seen_at = now(), open_conns = excluded.open_conns,
        rate_up = excluded.rate_up, rate_down = excluded.rate_down`;
    await sql`DELETE FROM node_load WHERE node = ${beat.name}`;
    if (beat.loads.length > 0) {
      await sql`
        INSERT INTO node_load (node, user_id, rate_up, rate_down, hungry_up, hungry_down,
          sources)
        SELECT ${beat.name}, d."userId", d."rateUp", d."rateDown", d."hungryUp", d."hungryDown",
          COALESCE(d.sources, '[]')::text
        FROM jsonb_to_recordset(${JSON.stringify(beat.loads)}::text::jsonb) AS d("userId" BIGINT,
          "rateUp" BIGINT, "rateDown" BIGINT, "hungryUp" BOOLEAN, "hungryDown" BOOLEAN,
          sources JSONB)
        WHERE EXISTS (SELECT 1 FROM users WHERE id = d."userId")`;
    }
  }

  async heartbeat(beat: NodeBeat): Promise<Heartbeat> {
    const [rows, [alive]] = await this.#sql.begin(async (sql) => {
      await this.#beat(sql, beat);
      if (beat.announce) await sql`SELECT pg_notify(${LOAD_CHANNEL}, ${beat.name})`;
      return [
        await sql`
        SELECT COALESCE(l.user_id, c.user_id) AS user_id, COALESCE(l.node, c.node) AS node,
          COALESCE(c.open_conns, 0) AS open_conns, COALESCE(l.rate_up, 0) AS rate_up,
          COALESCE(l.rate_down, 0) AS rate_down, COALESCE(l.hungry_up, FALSE) AS hungry_up,
          COALESCE(l.hungry_down, FALSE) AS hungry_down, COALESCE(l.sources, '[]') AS sources
        FROM (SELECT * FROM node_load WHERE node <> ${beat.name}) l
        FULL JOIN (SELECT user_id, node, open_conns FROM node_usage
                   WHERE open_conns > 0 AND node <> ${beat.name}) c
          ON c.user_id = l.user_id AND c.node = l.node
        JOIN nodes h ON h.name = COALESCE(l.node, c.node) AND h.seen_at > now() - ${
          this.#sql.unsafe(ALIVE)
        }`,
        await sql`SELECT count(*)::int AS n FROM nodes WHERE seen_at > now() - ${
          this.#sql.unsafe(ALIVE)
        }`,
      ];
    });
    const peers = rows.map((r) => ({
      userId: r.user_id as number,
      node: r.node as string,
      openConns: r.open_conns as number,
      rateUp: r.rate_up as number,
      rateDown: r.rate_down as number,
      hungryUp: r.hungry_up as boolean,
      hungryDown: r.hungry_down as boolean,
      sources: JSON.parse(r.sources as string) as string[],
    }));
    return { peers, nodesAlive: alive.n as number };
  }

  async nodes(): Promise<NodeInfo[]> {
    const rows = await this.#sql`
      SELECT name, listen, version, started_at, open_conns, rate_up, rate_down,
        (extract(epoch FROM now() - seen_at) * 1000)::bigint AS age,
        (SELECT count(*) FROM node_load l WHERE l.node = nodes.name)::int AS users
      FROM nodes ORDER BY name`;
    return rows.map((r) => ({
      name: r.name as string,
      listen: r.listen as string,
      version: r.version as string,
      startedAt: r.started_at as number,
      seenMsAgo: r.age as number,
      alive: (r.age as number) < NODE_ALIVE_MS,
      openConns: r.open_conns as number,
      rateUp: r.rate_up as number,
      rateDown: r.rate_down as number,
      activeUsers: r.users as number,
    }));
  }

  async usageByNode(): Promise<NodeUsage[]> {
    const rows = await this.#sql`
      SELECT u.name, n.node, n.bytes_up, n.bytes_down, n.open_conns
      FROM node_usage n JOIN users u ON u.id = n.user_id ORDER BY u.name, n.node`;
    return rows.map((r) => ({
      user: r.name as string,
      node: r.node as string,
      bytesUp: r.bytes_up as number,
      bytesDown: r.bytes_down as number,
      openConns: r.open_conns as number,
    }));
  }

  async onChange(listener: () => void): Promise<() => Promise<void>> {
    const { unlisten } = await this.#sql.listen(CHANGES_CHANNEL, () => listener());
    return unlisten;
  }

  async onLoad(listener: (node: string) => void): Promise<() => Promise<void>> {
    const { unlisten } = await this.#sql.listen(LOAD_CHANNEL, (node) => listener(node));
    return unlisten;
  }
}
