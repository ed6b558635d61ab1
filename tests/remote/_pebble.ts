/**
 * Debian's `pebble` (a test ACME server) on loopback, with `pebble-challtestsrv` as its DNS
 * server answering every name with 127.0.0.1 (and no AAAA), so validations are real and reach
 * only this machine: every address in its config is 127.0.0.1 and its resolver is ours, so it
 * needs no `unshare -n` (which would also hide it from the test).
 */
import { join } from "node:path";
import { delay, freePort, Program } from "../_harness.ts";
import { createCertificate } from "../../lib/remote/store/certificate.ts";

/** A running pebble. */
export interface Pebble {
  /** The ACME directory URL. */
  directory: string;
  /** The file with the CA of pebble's own HTTPS (for `--acme-ca`). */
  httpsCaPath: string;
  /** The file with pebble's issuing root, fetched from its management port. */
  rootPath: string;
  root: string;
  stop(): Promise<void>;
}

/**
 * Starts pebble validating TLS-ALPN-01 on `tlsPort` and HTTP-01 on `httpPort`, issuing
 * certificates valid for `validitySeconds`.
 */
export async function startPebble(
  options: { tlsPort: number; httpPort: number; validitySeconds: number },
): Promise<Pebble> {
  const dir = await Deno.makeTempDir({ prefix: "swiftproxy-pebble-" });
  const https = await createCertificate(["localhost", "127.0.0.1"]);
  const httpsCaPath = join(dir, "https-cert.pem");
  Deno.writeTextFileSync(httpsCaPath, https.cert);
  Deno.writeTextFileSync(join(dir, "https-key.pem"), https.key);
  const [acmePort, managementPort, dnsPort, dnsManagementPort] = [
    freePort(),
    freePort(),
    freePort(),
    freePort(),
  ];
  Deno.writeTextFileSync(
    join(dir, "pebble.json"),
    JSON.stringify({
      pebble: {
        listenAddress: `127.0.0.1:${acmePort}`,
        managementListenAddress: `127.0.0.1:${managementPort}`,
        certificate: httpsCaPath,
        privateKey: join(dir, "https-key.pem"),
        httpPort: options.httpPort,
        tlsPort: options.tlsPort,
        ocspResponderURL: "",
        externalAccountBindingRequired: false,
        certificateValidityPeriod: options.validitySeconds,
      },
    }),
  );
  const dns = new Program([
    "-dns01",
    `127.0.0.1:${dnsPort}`,
    "-defaultIPv4",
    "127.0.0.1",
    "-defaultIPv6",
    "",
    "-http01",
    "",
    "-https01",
    "",
    "-tlsalpn01",
    "",
    "-management",
    `127.0.0.1:${dnsManagementPort}`,
  ], { command: "pebble-challtestsrv" });
  await dns.waitFor(/Starting challenge servers/);
  const pebble = new Program(
    ["-config", join(dir, "pebble.json"), "-dnsserver", `127.0.0.1:${dnsPort}`, "-strict=false"],
    {
      command: "pebble",
      // Validate at once, never reject a good nonce, never reuse an authorization: each
      // issuance is validated for real.
      env: { PEBBLE_VA_NOSLEEP: "1", PEBBLE_WFE_NONCEREJECT: "0", PEBBLE_AUTHZREUSE: "0" },
    },
  );
  const stop = async () => {
    await pebble.stop();
    await dns.stop();
    await Deno.remove(dir, { recursive: true }).catch(() => {});
  };
  try {
    await pebble.waitFor(/ACME directory available/);
    const client = Deno.createHttpClient({ caCerts: [https.cert] });
    let root = "";
    for (let i = 0; i < 50 && !root.includes("BEGIN CERTIFICATE"); i++) {
      root = await fetch(`https://127.0.0.1:${managementPort}/roots/0`, { client })
        .then((r) => r.text()).catch(() => "");
      if (!root.includes("BEGIN CERTIFICATE")) await delay(100);
    }
    client.close();
    const rootPath = join(dir, "root.pem");
    Deno.writeTextFileSync(rootPath, root);
    return {
      directory: `https://127.0.0.1:${acmePort}/dir`,
      httpsCaPath,
      rootPath,
      root,
      stop,
    };
  } catch (error) {
    await stop();
    throw error;
  }
}
