/**
 * The link `user link` prints, used as a person would: fed to V2Ray (Debian's v2ray 4.34, its
 * Trojan outbound configured from the link's fields) and to `swiftproxy-local --link`, each
 * carrying a real download byte-exact; a wrong pin is refused.
 *
 * V2Ray 4.34 has no pin option (`pcs`, Xray's and v2rayN's, is not in it: no
 * `pinnedPeerCertificateChainSha256` either), so for it the test does what such a client's
 * importer does: fetches the leaf certificate, checks its SHA-256 against `pcs` and gives V2Ray
 * that certificate as the only one to trust; V2Ray given any other certificate refuses. The
 * wrong pin itself is tested on swiftproxy-local, which checks it.
 */
import { assert, assertEquals } from "../_assert.ts";
import {
  curl,
  freePort,
  has,
  localArgs,
  Program,
  randomBytes,
  RemoteFixture,
  sha256,
  startOrigin,
} from "../_harness.ts";
import { parseShareLink } from "../../lib/protocol/share_link.ts";
import type { ShareLink } from "../../lib/protocol/share_link.ts";
import { createCertificate } from "../../lib/remote/store/certificate.ts";
import { newLink, pemSha256 } from "../remote/_share.ts";

const SIZE = 3 * 1024 * 1024 + 17;

/** The leaf certificate `host:port` shows, fetched with openssl, as PEM. */
async function servedCertificate(link: ShareLink): Promise<string> {
  const out = await new Deno.Command("openssl", {
    args: ["s_client", "-connect", `${link.host}:${link.port}`, "-servername", link.sni],
    stdin: "null",
    stdout: "piped",
    stderr: "null",
  }).output();
  const pem = /-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/.exec(
    new TextDecoder().decode(out.stdout),
  );
  if (!pem) throw new Error("openssl showed no certificate");
  return pem[0] + "\n";
}

/** Starts v2ray with a SOCKS inbound on `socksPort` and a Trojan outbound from `link`. */
function startV2ray(dir: string, link: ShareLink, trusted: string, socksPort: number): V2ray {
  const config = {
    log: { loglevel: "warning" },
    inbounds: [{
      listen: "127.0.0.1",
      port: socksPort,
      protocol: "socks",
      settings: { auth: "noauth", udp: false },
    }],
    outbounds: [{
      protocol: "trojan",
      settings: {
        servers: [{
          address: link.host,
          port: link.port,
          password: `${link.user}:${link.password}`,
        }],
      },
      streamSettings: {
        network: "tcp",
        security: "tls",
        tlsSettings: {
          serverName: link.sni,
          allowInsecure: false,
          disableSystemRoot: true,
          certificates: [{ usage: "verify", certificate: trusted.trim().split("\n") }],
        },
      },
    }],
  };
  const path = `${dir}/v2ray-${socksPort}.json`;
  Deno.writeTextFileSync(path, JSON.stringify(config, null, 2));
  return new V2ray(path);
}

/** A running v2ray; `stop` ends it and gives what it printed. */
class V2ray {
  readonly #child: Deno.ChildProcess;
  readonly #output: Promise<Deno.CommandOutput>;

  constructor(config: string) {
    this.#child = new Deno.Command("v2ray", {
      args: ["-config", config],
      stdin: "null",
      stdout: "piped",
      stderr: "piped",
    }).spawn();
    this.#output = this.#child.output();
  }

  async stop(): Promise<string> {
    try {
      this.#child.kill("SIGTERM");
    } catch {
      // already exited
    }
    const out = await this.#output;
    return new TextDecoder().decode(out.stdout) + new TextDecoder().decode(out.stderr);
  }
}

async function waitForPort(port: number): Promise<void> {
  for (const deadline = Date.now() + 10_000; Date.now() < deadline;) {
    try {
      (await Deno.connect({ hostname: "127.0.0.1", port })).close();
      return;
    } catch {
      await new Promise((r) => setTimeout(r, 50));
    }
  }
  throw new Error(`nothing listens on ${port}`);
}

/** Downloads SIZE bytes from the origin through the SOCKS5 proxy on `port`; their SHA-256. */
async function download(port: number, originPort: number) {
  const out = await curl(
    "--socks5-hostname",
    `127.0.0.1:${port}`,
    `http://127.0.0.1:${originPort}/bytes/${SIZE}`,
  );
  return { code: out.code, sha256: await sha256(out.body), length: out.body.length };
}

Deno.test({
  name:
    "the link from user link carries a download through V2Ray, byte-exact; another certificate is refused",
  ignore: !has("v2ray") || !has("openssl"),
  async fn() {
    const origin = startOrigin();
    const remote = await RemoteFixture.start({ alice: "alice-secret" });
    const want = await sha256(randomBytes(SIZE));
    const programs: V2ray[] = [];
    try {
      const link = parseShareLink((await newLink(remote, "alice")).link);
      const served = await servedCertificate(link);
      assertEquals(await pemSha256(served), link.pin, "the served certificate is the pinned one");

      const port = freePort();
      programs.push(startV2ray(remote.dir, link, served, port));
      await waitForPort(port);
      assertEquals(await download(port, origin.port), { code: 0, sha256: want, length: SIZE });

      const impostor = (await createCertificate(["127.0.0.1", "localhost"])).cert;
      const other = freePort();
      programs.push(startV2ray(remote.dir, link, impostor, other));
      await waitForPort(other);
      const refused = await download(other, origin.port);
      assert(refused.code !== 0 && refused.length === 0, `V2Ray trusted another certificate`);
    } finally {
      for (const program of programs) await program.stop();
      await remote.stop();
      await origin.close();
    }
  },
});

Deno.test("swiftproxy-local --link carries a download byte-exact; a wrong pin is refused", async () => {
  const origin = startOrigin();
  const remote = await RemoteFixture.start({ alice: "alice-secret" });
  const want = await sha256(randomBytes(SIZE));
  try {
    const printed = (await newLink(remote, "alice")).link;
    const port = freePort();
    const local = new Program(
      localArgs("--listen", `127.0.0.1:${port}`, "--no-ui", "--link", printed),
      { env: { HOME: remote.dir } },
    );
    try {
      await local.waitFor(/proxy on/);
      assertEquals(await download(port, origin.port), { code: 0, sha256: want, length: SIZE });
    } finally {
      await local.stop();
    }
    const { password } = parseShareLink(printed);
    assert(!local.output.includes(password), "the password is never printed");

    // One digit of the pin changed: the local listens anyway (as for its other start-up
    // checks), says why, and refuses every tunnel.
    const pin = parseShareLink(printed).pin!;
    const wrong = printed.replace(pin, (pin[0] === "0" ? "1" : "0") + pin.slice(1));
    const refusedPort = freePort();
    const refused = new Program(
      localArgs("--listen", `127.0.0.1:${refusedPort}`, "--no-ui", "--link", wrong),
      { env: { HOME: remote.dir } },
    );
    try {
      await refused.waitFor(/Certificate not trusted: .* not the pinned/);
      assert((await download(refusedPort, origin.port)).code !== 0, "a tunnel went through");
    } finally {
      await refused.stop();
    }
    assert(!refused.output.includes(password), "the password is never printed");

    // The right pin with a server name its certificate does not name: its own message.
    const withLink = (text: string) =>
      new Program(localArgs("--listen", `127.0.0.1:${freePort()}`, "--no-ui", "--link", text), {
        env: { HOME: remote.dir },
      });
    // The local listens anyway, as for a wrong pin, and says why.
    const named = withLink(printed.replace(/sni=[^&#]*/, "sni=wrong.example"));
    try {
      await named.waitFor(/Wrong server name: .*not issued for "wrong\.example"/);
    } finally {
      await named.stop();
    }

    // A link that clients would read differently (first wins, last wins) is refused outright.
    const twice = withLink(printed.replace("allowInsecure=0", "allowInsecure=0&allowInsecure=1"));
    assertEquals((await twice.status).code, 2, twice.output);
    assert(/--link.*allowInsecure or insecure at most once/.test(twice.output), twice.output);
    assert(!named.output.includes(password) && !twice.output.includes(password), "no password");
  } finally {
    await remote.stop();
    await origin.close();
  }
});
