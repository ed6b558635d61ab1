/**
 * `swiftproxy-remote node list`: the nodes sharing one PostgreSQL database, with their load and
 * whether they are alive; and the per-node usage table of `user list --by-node`.
 */
import { Command } from "commander";
import { formatBytes } from "../../common/ops/units.ts";
import { columns } from "../../common/ops/printable.ts";
import { openStoreAt } from "../store/store_url.ts";
import type { StoreLocation } from "../store/store_url.ts";
import { PostgresStore } from "../store/postgres_store.ts";
import type { NodeInfo, NodeUsage } from "../store/node_registry.ts";
import { dataOption } from "./options.ts";

/**
 * Opens the shared store of `location`, or explains that nodes need one.
 *
 * @throws {Error} when `--db` (or `$SWIFTPROXY_DB`) names no PostgreSQL database
 */
export async function openSharedStore(location: StoreLocation): Promise<PostgresStore> {
  const store = await openStoreAt(location, { existing: true });
  if (store instanceof PostgresStore) return store;
  await store.close();
  throw new Error(
    "nodes share a PostgreSQL database: give --db postgres://… (or set SWIFTPROXY_DB)",
  );
}

/** The `node list` table. */
export function nodeTable(nodes: NodeInfo[]): string {
  const rows = [[
    "NAME",
    "STATUS",
    "LISTEN",
    "VERSION",
    "CONNS",
    "USERS",
    "UP/S",
    "DOWN/S",
    "SEEN",
  ]];
  for (const n of nodes) {
    rows.push([
      n.name,
      n.alive ? "alive" : "down",
      n.listen,
      n.version,
      String(n.openConns),
      String(n.activeUsers),
      formatBytes(n.rateUp),
      formatBytes(n.rateDown),
      `${(n.seenMsAgo / 1000).toFixed(1)} s ago`,
    ]);
  }
  return columns(rows);
}

/** The `user list --by-node` table: each user's usage on each node (`-`: written by none). */
export function usageByNodeTable(usage: NodeUsage[]): string {
  const rows = [["NAME", "NODE", "USED UP", "USED DOWN", "CONNS"]];
  for (const u of usage) {
    rows.push([
      u.user,
      u.node || "-",
      formatBytes(u.bytesUp),
      formatBytes(u.bytesDown),
      String(u.openConns),
    ]);
  }
  return columns(rows);
}

/** The `node` command group. */
export function nodeCommands(): Command {
  const node = new Command("node").description("nodes sharing one PostgreSQL users database");
  node.command("list").description("the nodes, their load, and whether they are alive")
    .addOption(dataOption())
    .option("--json", "print JSON instead of a table", false)
    .action(async (options) => {
      let store: PostgresStore | undefined;
      try {
        store = await openSharedStore(options);
        const nodes = await store.registry.nodes();
        console.log(options.json ? JSON.stringify(nodes, null, 2) : nodeTable(nodes));
      } catch (error) {
        console.error(`error: ${(error as Error).message}`);
        Deno.exitCode = 1;
      } finally {
        await store?.close();
      }
    });
  return node;
}
