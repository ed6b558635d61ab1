/** The brute-force guard: a source past the failure limit cools off; others are unaffected. */
import { assert, assertEquals } from "../_assert.ts";
import { delay } from "../_harness.ts";
import { InProcessRemote } from "../_inprocess.ts";
import { trojan } from "./_helpers.ts";
import { REMOTE_DEFAULTS } from "../../lib/remote/tunnel/config.ts";

const STATUS = { host: "status.swiftproxy.invalid", port: 1 };

function status(remote: InProcessRemote, localAddress: string) {
  return trojan(remote, { credential: "alice:alice-secret", destination: STATUS, localAddress });
}

Deno.test("brute force: 127.0.0.1 is refused after 20 failures, 127.0.0.2 still works", async () => {
  const remote = await InProcessRemote.start(undefined, {
    authGuard: { ...REMOTE_DEFAULTS.authGuard, coolOffMs: 4_000 },
  });
  try {
    const before = await status(remote, "127.0.0.1");
    assertEquals(JSON.parse(new TextDecoder().decode(before.bytes)).user, "alice");

    const attempts = await Promise.all(
      Array.from({ length: 25 }, (_, i) =>
        trojan(remote, {
          credential: `alice:guess-${i}`,
          destination: STATUS,
          localAddress: "127.0.0.1",
        })),
    );
    assert(attempts.every((a) => a.closed && a.bytes.length === 0), "wrong keys get nothing");

    // The right password from the attacker's address now gets what a wrong one gets.
    const blocked = await status(remote, "127.0.0.1");
    assert(blocked.closed, "closed");
    assertEquals(blocked.bytes.length, 0, "no status document while cooling off");

    const honest = await status(remote, "127.0.0.2");
    assertEquals(JSON.parse(new TextDecoder().decode(honest.bytes)).user, "alice");

    // Logged once for the period, naming the source, never the credential.
    const lines = remote.program.output.split("\n").filter((l) => l.includes("failed logins"));
    assertEquals(lines.length, 1, remote.program.output);
    assert(lines[0]!.includes("127.0.0.1") && !lines[0]!.includes("guess"), lines[0]);

    await delay(4_500);
    const after = await status(remote, "127.0.0.1");
    assert(after.bytes.length > 0, "the address works again after the cooling-off period");
  } finally {
    await remote.stop();
  }
});
