/**
 * What the `serve --acme` tests share: a remote with alice serving with given flags, and the
 * certificate a TLS client is served on a port.
 */
import tls from "node:tls";
import { Program, remoteArgs, runProgram, sha256 } from "../_harness.ts";

/** A remote with alice, serving on `port` with `serveArgs`. */
export async function acmeRemote(port: number, serveArgs: string[]) {
  const dir = await Deno.makeTempDir({ prefix: "swiftproxy-acme-" });
  for (
    const args of [
      ["init"], // 1 MiB/s down: a download takes long enough to span a renewal.
      ["user", "add", "alice", "--password", "alice-secret", "--down", "1MiB"],
    ]
  ) {
    const result = await runProgram(remoteArgs(...args, "--data", dir));
    if (result.code !== 0) throw new Error(`${args[0]} failed: ${result.stderr}`);
  }
  const program = new Program(remoteArgs(
    "serve",
    "--data",
    dir,
    "--listen",
    `127.0.0.1:${port}`,
    "--allow-private",
    ...serveArgs,
  ));
  await program.waitFor(/listening on/);
  return {
    dir,
    port,
    program,
    async stop() {
      await program.stop();
      await Deno.remove(dir, { recursive: true }).catch(() => {});
    },
  };
}

/** The leaf a TLS client sees at `port` asking for `servername`, checked against `ca`. */
export function servedCertificate(
  port: number,
  servername: string,
  ca?: string,
): Promise<{ authorized: boolean; fingerprint: string; issuer: string }> {
  return new Promise((resolve, reject) => {
    const socket = tls.connect({
      host: "127.0.0.1",
      port,
      servername,
      ca,
      rejectUnauthorized: false,
    });
    socket.once("secureConnect", () => {
      const cert = socket.getPeerCertificate();
      resolve({
        authorized: socket.authorized,
        fingerprint: cert.fingerprint256.replaceAll(":", "").toLowerCase(),
        issuer: [cert.issuer.CN ?? ""].flat().join(", "),
      });
      socket.destroy();
    });
    socket.once("error", reject);
  });
}

/** The SHA-256 of the first certificate in the PEM file at `path`, in hex. */
export async function pemSha256(path: string): Promise<string> {
  const base64 = Deno.readTextFileSync(path).split("-----END")[0]!.replace(/-----[^-]+-----/g, "")
    .replace(/\s+/g, "");
  return await sha256(Uint8Array.from(atob(base64), (c) => c.charCodeAt(0)));
}
