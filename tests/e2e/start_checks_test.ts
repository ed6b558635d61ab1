/**
 * What the local says at start when the remote's certificate is not the one it was told to
 * trust: a `--ca` file that is another certificate is named as such (not "give --ca"), and a
 * link whose pin does not match leaves the proxy listening with a warning, as the README says
 * of every start-up check, while no tunnel goes through.
 */
import { assert } from "../_assert.ts";
import { curl, delay, RemoteFixture, spawnLocal, startOrigin } from "../_harness.ts";
import { newLink } from "../remote/_share.ts";

Deno.test("the local's start-up checks: a wrong --ca file and a wrong pin", async (t) => {
  const remote = await RemoteFixture.start();
  const other = await RemoteFixture.start({});
  const origin = startOrigin();
  const page = `http://127.0.0.1:${origin.port}/`;
  const through = async (port: number) =>
    (await curl("--max-time", "10", "-x", `socks5h://127.0.0.1:${port}`, page)).code === 0;
  try {
    await t.step("--ca with another certificate: says it is not the one in that file", async () => {
      const { program, port } = await spawnLocal([
        ...["--remote", remote.address, "--user", "alice", "--ca", other.certPath],
        ...["--no-ui", "--config", `${remote.dir}/local.json`],
      ]);
      try {
        await program.waitFor(/Certificate not trusted/);
        const line = program.output.split("\n").find((l) => l.includes("Certificate not trusted"))!;
        assert(line.includes(`is not the one in ${other.certPath}`), line);
        assert(!line.includes("with --ca FILE"), `asks for --ca although one is given: ${line}`);
        assert(!(await through(port)), "a request went through an untrusted certificate");
      } finally {
        await program.stop();
      }
    });

    await t.step("a link whose pin is not the remote's: listens anyway and says so", async () => {
      const { link } = await newLink(remote, "alice");
      const pin = /pcs=([0-9a-f]{64})/.exec(link)![1]!;
      const wrong = link.replace(pin, (pin[0] === "0" ? "1" : "0") + pin.slice(1));
      const { program, port } = await spawnLocal(
        ["--link", wrong, "--no-ui", "--config", `${remote.dir}/local.json`],
        "",
      );
      try {
        await program.waitFor(/not the pinned one/);
        assert(/listens anyway/.test(program.output), program.output);
        assert(!(await through(port)), "a request went through a certificate not pinned");
        await delay(200);
        const conn = await Deno.connect({ hostname: "127.0.0.1", port });
        conn.close(); // still listening: it did not exit
      } finally {
        await program.stop();
      }
    });
  } finally {
    await origin.close();
    await other.stop();
    await remote.stop();
  }
});
