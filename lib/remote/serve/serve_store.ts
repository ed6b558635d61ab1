/**
 * What `serve` runs on: SQLite in the data directory, or a PostgreSQL database shared with
 * other nodes, read through a cache (so an outage does not stop the node), written through
 * a numbered, spooled outbox, and joined as a node with its heartbeat and shared limits.
 */
import { join } from "node:path";
import { formatHostPort } from "../../protocol/address.ts";
import { VERSION } from "../../version.ts";
import { PostgresStore } from "../store/postgres_store.ts";
import { databaseUrl, isPostgresUrl, openStoreAt, redactUrl } from "../store/store_url.ts";
import type { StoreLocation } from "../store/store_url.ts";
import { SchemaVersionError } from "../store/user_store.ts";
import type { UserStore } from "../store/user_store.ts";
import { CachedStore, readUsersCache, StoreHealth } from "../store/users_cache.ts";
import { readSpool, UsageOutbox } from "../store/usage_spool.ts";
import { NodeLink } from "../nodes/nodes.ts";
import { SharedLimits } from "../nodes/shared_limits.ts";
import type { RemoteServer } from "../tunnel/server.ts";

/** Where a node keeps its cache of users and its spool of usage, in the data directory. */
export function nodePaths(dir: string): { cache: string; spool: string } {
  return { cache: join(dir, "users-cache.json"), spool: join(dir, "usage-spool.json") };
}

/** The store `serve` uses and how it joins the other nodes. */
export interface ServeStore {
  store: UserStore;
  /** Where usage goes (numbered per node on a shared store); undefined: the default. */
  outbox?: UsageOutbox;
  /** The node's name on a shared store. */
  node?: string;
  /** Registers the node and starts its heartbeat, once `server` listens. */
  join(server: RemoteServer): Promise<void>;
  /** Stops the heartbeat and closes the store (after the server's last flush). */
  close(): Promise<void>;
}

/** Thrown when `serve` has neither a database nor anything cached to serve from. */
export class NothingToServe extends Error {
  constructor(message: string) {
    super(message);
    this.name = "NothingToServe";
  }
}

/**
 * Opens what `serve` needs for `location` and `node` (default: the host name). A shared
 * database that does not answer is waited for only when the node has no cached users and no
 * spooled usage.
 *
 * @throws {NothingToServe} when the database is unreachable and nothing is cached or spooled
 * @throws {SchemaVersionError} when the database is newer than this program
 * @example const opened = await openServeStore({ data: "./data", db: url }, "eu-1");
 */
export async function openServeStore(
  location: StoreLocation,
  node?: string,
): Promise<ServeStore> {
  const url = databaseUrl(location);
  if (!isPostgresUrl(url)) {
    if (node) {
      throw new NothingToServe("--node needs a database shared by the nodes: --db postgres://…");
    }
    const store = await openStoreAt(location);
    return { store, join: () => Promise.resolve(), close: () => store.close() };
  }
  const name = node ?? Deno.hostname();
  const paths = nodePaths(location.data);
  Deno.mkdirSync(location.data, { recursive: true, mode: 0o700 });
  const health = new StoreHealth(url);
  const pg = new PostgresStore(url);
  try {
    await pg.migrate();
  } catch (error) {
    if (error instanceof SchemaVersionError || !hasLocalState(paths)) {
      await pg.close();
      if (error instanceof SchemaVersionError) throw error;
      throw new NothingToServe(
        `cannot reach the users database ${redactUrl(url)}: ${
          redactUrl((error as Error).message)
        }; and ${location.data} holds no cached users or spooled usage to serve from`,
      );
    }
    health.down(error);
  }
  const store = new CachedStore(pg, health, paths.cache);
  const outbox = new UsageOutbox(store, { node: name, spoolPath: paths.spool, health });
  let link: NodeLink | undefined;
  return {
    store,
    outbox,
    node: name,
    async join(server) {
      link = await NodeLink.start({
        name,
        listen: formatHostPort({ host: server.addr.hostname, port: server.addr.port }),
        version: VERSION,
        registry: pg.registry,
        accounts: server.accounts,
        limits: new SharedLimits(server.accounts),
        health,
      });
    },
    async close() {
      await link?.stop();
      await store.close();
    },
  };
}

function hasLocalState(paths: { cache: string; spool: string }): boolean {
  return readUsersCache(paths.cache) !== undefined ||
    (readSpool(paths.spool)?.batches.length ?? 0) > 0;
}
