/**
 * Forged log lines: a SOCKS5 domain (on the local) and a Trojan domain (on the remote) with a
 * LF and a fake log line in it must stay on one line, escaped, in both programs' text logs.
 */
import { assert } from "../_assert.ts";
import { LocalFixture, RemoteFixture } from "../_harness.ts";
import { trojan } from "./_helpers.ts";
import { trojanToken } from "../../lib/protocol/trojan.ts";

const FORGED = "[ERR] swiftproxy·remote: forged";
const DOMAIN = `evil.invalid\n2026-01-01 00:00:00.000 +00:00 ${FORGED}`;

/** Lines of `output` that start with the forged text (after a timestamp or at once). */
function forgedLines(output: string): string[] {
  return output.split("\n").filter((line) => line.startsWith("2026-01-01 00:00:00.000"));
}

/** Opens a SOCKS5 CONNECT to `domain` through the local and waits for its reply or close. */
async function socksConnect(port: number, domain: string): Promise<void> {
  const conn = await Deno.connect({ hostname: "127.0.0.1", port });
  const name = new TextEncoder().encode(domain);
  await conn.write(Uint8Array.of(5, 1, 0));
  await conn.read(new Uint8Array(2));
  await conn.write(Uint8Array.of(5, 1, 0, 3, name.length, ...name, 0, 80));
  await conn.read(new Uint8Array(64)).catch(() => null);
  conn.close();
}

Deno.test("logs: a domain with a LF writes no forged line on the local or the remote", async () => {
  const remote = await RemoteFixture.start();
  const local = await LocalFixture.start(remote);
  try {
    await socksConnect(local.port, DOMAIN);
    // Raw bytes: the encoder would take a name with colons for an IPv6 address.
    const name = new TextEncoder().encode(DOMAIN);
    const raw = new Uint8Array([
      ...new TextEncoder().encode(`${trojanToken("alice:alice-secret")}\r\n`),
      ...[1, 3, name.length, ...name, 0, 80, 13, 10],
    ]);
    await trojan(remote, {
      credential: "",
      destination: { host: "", port: 0 },
      raw,
      readMs: 2_000,
    });
    // Both programs log the failed destination, escaped.
    await local.program.waitFor(/evil\.invalid\\n2026-01-01/, 5_000);
    await remote.program.waitFor(/evil\.invalid\\n2026-01-01/, 5_000);
    const logs: [name: string, output: string][] = [
      ["local", local.program.output],
      ["remote", remote.program.output],
    ];
    for (const [name, output] of logs) {
      assert(forgedLines(output).length === 0, `forged line in the ${name}'s log:\n${output}`);
    }
  } finally {
    await local.stop();
    await remote.stop();
  }
});
