/**
 * The local's own login for LAN sharing has a floor: `--socks-pass` (also the HTTP proxy's
 * Basic password) shorter than 8 characters is refused before anything starts.
 */
import { assert, assertEquals } from "../_assert.ts";
import { freePort, localArgs, runProgram } from "../_harness.ts";

Deno.test("--socks-pass shorter than 8 characters: exit 2, the option named, nothing started", async () => {
  const dir = await Deno.makeTempDir({ prefix: "swiftproxy-socks-pass-" });
  try {
    for (const short of ["", "Q7", "sEv3n!!", "αβγδεζη"]) {
      const listen = freePort();
      const out = await runProgram(
        localArgs(
          "--listen",
          `127.0.0.1:${listen}`,
          "--remote",
          `127.0.0.1:${freePort()}`,
          "--user",
          "alice",
          "--socks-user",
          "lan",
          "--socks-pass",
          short,
          "--ui",
          `127.0.0.1:${freePort()}`,
          "--config",
          `${dir}/settings.json`,
        ),
        { env: { SWIFTPROXY_PASSWORD: "alice-secret" } },
      );
      assertEquals(out.code, 2, `exit code for ${JSON.stringify(short)}; ${out.stderr}`);
      assert(/--socks-pass.*at least 8 characters/.test(out.stderr), out.stderr);
      if (short) assert(!out.stderr.includes(short), `the password was printed: ${out.stderr}`);
      assert(!/proxy on|dashboard on/.test(out.stdout), `something started: ${out.stdout}`);
      await Deno.stat(`${dir}/settings.json`).then(
        () => assert(false, "the settings file was written"),
        () => {},
      );
    }
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("--help says the floor and that a long random --socks-pass is better", async () => {
  const out = await runProgram(localArgs("--help"));
  assertEquals(out.code, 0);
  const help = out.stdout.replace(/\s+/g, " ");
  assert(/--socks-pass <password> .*at least 8 characters .*long random one/.test(help), help);
});
