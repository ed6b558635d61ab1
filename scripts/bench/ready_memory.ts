/**
 * Memory per ready tunnel: this process opens tunnels with SwiftProxy's own `TunnelDialer`
 * (TCP + TLS done, no header: what the pool holds) to a real `remote.ts serve`, and reads the
 * growth of its own and the remote's `VmRSS`. At most 60 at once, under the remote's 64
 * pre-login connections per source; several rounds, each in a fresh pair of processes.
 *
 *   deno run -P=bench scripts/bench/ready_memory.ts [ROUNDS]
 */
import { fileURLToPath } from "node:url";
import { TunnelDialer } from "../../lib/local/tunnel/tunnel.ts";
import type { Peer } from "../../lib/common/net/peer.ts";
import { rssKiB } from "./load.ts";

const ROOT = fileURLToPath(new URL("../../", import.meta.url));
const PASSWORD = "bench-password-1234";
const PER_ROUND = 60;

/** KiB per ready tunnel on each side, averaged over `rounds` rounds. */
export async function readyTunnelMemory(rounds = 3): Promise<{ local: number; remote: number }> {
  const dir = await Deno.makeTempDir({ prefix: "swiftproxy-ready-" });
  const deno = Deno.execPath();
  const remote = ["run", "-q", "-P=remote", `${ROOT}remote.ts`];
  const run = (args: string[]) => new Deno.Command(deno, { args, stdout: "null" }).output();
  await run([...remote, "init", "--data", dir]);
  await run([...remote, "user", "add", "bench", "--password", PASSWORD, "--data", dir]);
  let local = 0;
  let server = 0;
  try {
    for (let round = 0; round < rounds; round++) {
      const probe = Deno.listen({ hostname: "127.0.0.1", port: 0 });
      const port = probe.addr.port;
      probe.close();
      const child = new Deno.Command(deno, {
        args: [
          ...remote,
          "serve",
          "--data",
          dir,
          "--listen",
          `127.0.0.1:${port}`,
          "--log-level",
          "error",
        ],
        stdout: "null",
        stderr: "null",
      }).spawn();
      const dialer = new TunnelDialer({
        remote: { host: "127.0.0.1", port },
        user: "bench",
        password: PASSWORD,
        caCerts: [await Deno.readTextFile(`${dir}/tls/cert.pem`)],
        serverName: "localhost",
        timeoutMs: 10_000,
        preconnect: 0,
      });
      for (let tries = 0;; tries++) {
        try {
          (await dialer.connect()).close();
          break;
        } catch (error) {
          if (tries > 100) throw error;
          await new Promise((r) => setTimeout(r, 100));
        }
      }
      // Warm up (JIT, allocator), then measure the growth for a second set.
      const warm: Peer[] = [];
      for (let i = 0; i < 20; i++) warm.push(await dialer.connect());
      for (const peer of warm) peer.close();
      await new Promise((r) => setTimeout(r, 300));
      const before = [rssKiB(Deno.pid), rssKiB(child.pid)];
      const held: Peer[] = [];
      for (let i = 0; i < PER_ROUND; i++) {
        const peer = await dialer.connect();
        peer.readAhead().catch(() => null); // as the pool does: notice a close
        held.push(peer);
      }
      await new Promise((r) => setTimeout(r, 500));
      local += (rssKiB(Deno.pid) - before[0]!) / PER_ROUND;
      server += (rssKiB(child.pid) - before[1]!) / PER_ROUND;
      for (const peer of held) peer.close();
      child.kill("SIGTERM");
      await child.status;
    }
  } finally {
    await Deno.remove(dir, { recursive: true }).catch(() => {});
  }
  return { local: local / rounds, remote: server / rounds };
}

/**
 * {@linkcode readyTunnelMemory} in a fresh process of its own, so memory this one freed earlier
 * (and would reuse) does not hide the growth.
 */
export async function readyTunnelMemoryFresh(
  rounds = 3,
): Promise<{ local: number; remote: number }> {
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["run", "-q", "-P=bench", fileURLToPath(import.meta.url), String(rounds), "--json"],
    stderr: "inherit",
  }).output();
  return JSON.parse(new TextDecoder().decode(out.stdout));
}

if (import.meta.main) {
  const result = await readyTunnelMemory(Number(Deno.args[0] ?? 3));
  if (Deno.args.includes("--json")) console.log(JSON.stringify(result));
  else {
    console.log(
      `KiB per ready tunnel: local ${result.local.toFixed(1)}, remote ${result.remote.toFixed(1)}`,
    );
  }
}
