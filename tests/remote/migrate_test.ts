/**
 * `migrate --from DIR --to postgres://…` through the real CLI: users, limits and usage copied;
 * running it again changes nothing; different data is refused without --force.
 */
import { assert, assertEquals } from "../_assert.ts";
import { remoteArgs, runProgram } from "../_harness.ts";
import { POSTGRES_MISSING, startCluster } from "../_postgres.ts";

Deno.test({
  name: "migrate copies users and usage once, and overwrites different data only with --force",
  ignore: POSTGRES_MISSING !== undefined,
  async fn() {
    const cluster = await startCluster();
    const dir = await Deno.makeTempDir({ prefix: "swiftproxy-migrate-" });
    try {
      const { url } = await cluster.createDatabase();
      const secret = url.replace("swiftproxy@", "swiftproxy:hunter2@");
      const remote = (...args: string[]) => runProgram(remoteArgs(...args));
      assertEquals((await remote("init", "--data", dir)).code, 0);
      const add = (name: string, ...limits: string[]) =>
        remote("user", "add", name, "--password", `${name}-secret`, ...limits, "--data", dir);
      await add("alice", "--down", "2MiB", "--reset-day", "5");
      await add("bob", "--quota", "1GiB");
      const admin = await remote("admin", "passwd", "--password", "panel-password", "--data", dir);
      assertEquals(admin.code, 0, admin.stderr);
      const ann = await remote("admin", "add", "ann", "--password", "ann-password", "--data", dir);
      assertEquals(ann.code, 0, ann.stderr);
      assertEquals((await remote("admin", "token", "add", "ci", "--data", dir)).code, 0);
      const first = await remote("migrate", "--from", dir, "--to", secret);
      assertEquals(first.code, 0, first.stderr);
      assert(/copied 2 user/.test(first.stdout), first.stdout);
      assert(/copied the admin panel's account/.test(first.stdout), first.stdout);
      assert(!first.stdout.includes("hunter2"), "the password was printed");
      const again = await remote("migrate", "--from", dir, "--to", secret);
      assert(/nothing to do/.test(again.stdout), again.stdout);
      const onPostgres = { env: { SWIFTPROXY_DB: url } };
      const admins = await runProgram(remoteArgs("admin", "list"), onPostgres);
      assertEquals(admins.stdout.trim().split("\n").map((l) => l.split(" ")[0]), ["admin", "ann"]);
      const tokens = await runProgram(remoteArgs("admin", "token", "list"), onPostgres);
      assert(tokens.stdout.startsWith("ci  read-write"), tokens.stdout);

      const listed = await runProgram(remoteArgs("user", "list", "--json"), {
        env: { SWIFTPROXY_DB: url },
      });
      const users = JSON.parse(listed.stdout) as {
        name: string;
        downLimit: number;
        resetDay?: number;
      }[];
      assertEquals(users.map((u) => [u.name, u.downLimit, u.resetDay]), [
        ["alice", 2 * 1024 * 1024, 5],
        ["bob", 0, 0],
      ]);

      await remote("user", "set", "bob", "--quota", "2GiB", "--data", dir);
      const refused = await remote("migrate", "--from", dir, "--to", secret);
      assertEquals(refused.code, 1);
      assert(
        /other data for bob/.test(refused.stderr) && /--force/.test(refused.stderr),
        refused.stderr,
      );
      const forced = await remote("migrate", "--from", dir, "--to", secret, "--force");
      assertEquals(forced.code, 0, forced.stderr);
      const after = await runProgram(remoteArgs("user", "list", "--json", "--db", url));
      const bob = (JSON.parse(after.stdout) as { name: string; quota: number }[])
        .find((u) => u.name === "bob")!;
      assertEquals(bob.quota, 2 * 1024 ** 3);
    } finally {
      await cluster.stop();
      await Deno.remove(dir, { recursive: true });
    }
  },
});
