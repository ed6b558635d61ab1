/**
 * Live changes from the real `user` programs (each its own process, several at once) while
 * `serve` runs on the same database: disable, passwd and remove close open connections within
 * a second, enable lets the user in again, and the commands never find the database locked.
 */
import { assert, assertEquals } from "../_assert.ts";
import { delay, LocalFixture, readUntil, RemoteFixture } from "../_harness.ts";
import { Counter, download, KiB, MiB, startEndpoint } from "./_traffic.ts";

const USERS = { alice: "alice-secret", bob: "bob-secret", carol: "carol-secret", dave: "d-secret" };

Deno.test("disable, passwd and remove close open connections within a second; enable lets in", async () => {
  const endpoint = startEndpoint();
  const remote = await RemoteFixture.start(USERS);
  const locals: Record<string, LocalFixture> = {};
  const stop = new AbortController();
  try {
    for (const name of ["alice", "bob", "carol"]) {
      locals[name] = await LocalFixture.start(remote, name, USERS[name as "alice"]);
      await remote.userProgram("set", name, "--down", "256KiB");
    }
    await delay(300);
    const transfers = Object.fromEntries(
      Object.entries(locals).map((
        [name, local],
      ) => [name, download(local.port, endpoint, 64 * MiB, new Counter(), stop.signal)]),
    );

    // Meanwhile, a burst of user commands against the busy database: none may fail.
    const commands = Array.from({ length: 8 }, (_, i) => [
      "set",
      "dave",
      "--up",
      `${i + 1}MiB`,
      "--quota",
      `${i + 1}GiB`,
    ]);
    for (let i = 0; i < commands.length; i += 4) {
      await Promise.all(commands.slice(i, i + 4).map((args) => remote.userProgram(...args)));
    }
    await remote.userProgram("list");

    const when: Record<string, number> = {};
    await Promise.all([
      remote.userProgram("disable", "alice").then(() => when.alice = performance.now()),
      remote.userProgram("passwd", "bob", "--password", "bob-new-secret").then(() =>
        when.bob = performance.now()
      ),
      remote.userProgram("remove", "carol").then(() => when.carol = performance.now()),
    ]);
    for (const name of ["alice", "bob", "carol"]) {
      const counter = (await transfers[name])!;
      assert(counter.cut && counter.total > 0, `${name}'s download was not cut`);
      const late = counter.ended! - when[name]!;
      assert(late < 1000, `${name}'s download went on ${late.toFixed(0)} ms after the change`);
    }
    await remote.program.waitFor(/closing 1 connection\(s\) of alice: disabled/, 5_000);
    await remote.program.waitFor(/of bob: password changed/, 5_000);
    await remote.program.waitFor(/of carol: removed/, 5_000);

    for (const name of ["alice", "bob", "carol"]) {
      const refused = await download(locals[name]!.port, endpoint, 64 * KiB);
      assertEquals(refused.total, 0, `${name} still got bytes after the change`);
    }
    await remote.program.waitFor(/refused alice from .*: disabled/, 5_000);

    await remote.userProgram("enable", "alice");
    // The remote sees the change at its next look at the database (every 250 ms; later on a
    // busy machine): the download is tried again until alice gets in.
    const again = await readUntil(
      () => download(locals.alice!.port, endpoint, 64 * KiB),
      (counter) => !counter.cut,
    );
    assert(!again.cut, `alice was not let in again after enable (${again.total} bytes)`);
  } finally {
    stop.abort();
    for (const local of Object.values(locals)) await local.stop();
    await remote.stop();
    endpoint.close();
  }
});
