/** The SQLite users store passes the store contract, on a file two connections share. */
import { DatabaseSync } from "node:sqlite";
import { assertEquals } from "../_assert.ts";
import { openSqliteStore, SqliteStore } from "../../lib/remote/store/sqlite_store.ts";
import { userStoreContract } from "./_user_store_contract.ts";

userStoreContract("SqliteStore", async () => {
  const dir = await Deno.makeTempDir({ prefix: "swiftproxy-store-" });
  const path = `${dir}/users.db`;
  return {
    open: () => Promise.resolve(new SqliteStore(path)),
    setSchemaVersion(version) {
      const db = new DatabaseSync(path);
      db.exec(`PRAGMA user_version = ${version}`);
      db.close();
      return Promise.resolve();
    },
    cleanup: () => Deno.remove(dir, { recursive: true }),
  };
});

Deno.test("SqliteStore: an in-memory store works without a file", async () => {
  const store = await openSqliteStore(":memory:");
  try {
    await store.add("alice", "a");
    assertEquals((await store.list()).map((u) => u.name), ["alice"]);
  } finally {
    await store.close();
  }
});
