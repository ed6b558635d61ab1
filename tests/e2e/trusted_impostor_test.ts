/**
 * A pin or `--ca` trusts that certificate and nothing else: an impostor whose certificate a
 * trusted CA issued for the remote's name (here a CA the local's process trusts through
 * `DENO_CERT`, as it would a public one) gets no tunnel byte, so never a login token. Without
 * a pin or `--ca` that same impostor is trusted, which shows the CA really is.
 *
 * For the pinned link, the local's first connection (the one-time fetch of the pinned
 * certificate) reaches the real remote and every later one the impostor: a man in the middle
 * who lets the first through.
 */
import { assert, assertEquals } from "../_assert.ts";
import tls from "node:tls";
import {
  curl,
  delay,
  freePort,
  localArgs,
  Program,
  RemoteFixture,
  spawnLocal,
  startOrigin,
} from "../_harness.ts";
import { eventually, makeCertificates } from "./_e2e.ts";
import type { TestCertificates } from "./_e2e.ts";
import { printedShare } from "../remote/_share.ts";

/** A TLS server with a CA-issued certificate for `localhost` that keeps every byte it is sent. */
class Impostor {
  readonly #server: tls.Server;
  received = 0;

  private constructor(server: tls.Server) {
    this.#server = server;
  }

  static async start(pki: TestCertificates): Promise<Impostor> {
    const server = tls.createServer({
      cert: await Deno.readTextFile(pki.cert),
      key: await Deno.readTextFile(pki.key),
    });
    const impostor = new Impostor(server);
    server.on("secureConnection", (socket: tls.TLSSocket) => {
      socket.on("data", (chunk: Uint8Array) => impostor.received += chunk.length);
      socket.on("error", () => {});
    });
    server.on("tlsClientError", () => {});
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    return impostor;
  }

  get port(): number {
    return (this.#server.address() as { port: number }).port;
  }

  close(): Promise<void> {
    return new Promise((resolve) => this.#server.close(() => resolve()));
  }
}

/** A TCP relay that sends its first connection to `first` and every later one to `rest`. */
function firstThenElsewhere(first: number, rest: () => number): Deno.TcpListener {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  (async () => {
    let accepted = 0;
    for await (const client of listener) {
      const port = accepted++ === 0 ? first : rest();
      Deno.connect({ hostname: "127.0.0.1", port }).then((server) => {
        client.readable.pipeTo(server.writable).catch(() => {});
        server.readable.pipeTo(client.writable).catch(() => {});
      }, () => client.close());
    }
  })().catch(() => {});
  return listener;
}

/** curl through the local's SOCKS5 port to the origin; true when the page came back. */
async function gotThrough(localPort: number, originPort: number): Promise<boolean> {
  const out = await curl(
    "--max-time",
    "10",
    "--socks5-hostname",
    `127.0.0.1:${localPort}`,
    `http://127.0.0.1:${originPort}/bytes/100`,
  );
  return out.code === 0;
}

Deno.test("a certificate a trusted CA issued for the name: no tunnel byte with a pin or --ca, trusted without", async (t) => {
  await using cleanup = new AsyncDisposableStack();
  const dir = await Deno.makeTempDir({ prefix: "swiftproxy-impostor-" });
  cleanup.defer(() => Deno.remove(dir, { recursive: true }));
  const pki = await makeCertificates(dir);
  const env = { HOME: dir, DENO_CERT: pki.caCert };
  const origin = cleanup.adopt(startOrigin(), (o) => o.close());
  const remote = cleanup.adopt(await RemoteFixture.start(), (r) => r.stop());
  const impostor = cleanup.adopt(await Impostor.start(pki), (i) => i.close());
  // No dashboard, and a settings file of each local's own.
  const quiet = (name: string) => ["--no-ui", "--config", `${dir}/${name}.json`];
  const impostorAccount = ["--remote", `127.0.0.1:${impostor.port}`, "--user", "alice"];

  await t.step(
    "neither pin nor --ca: the CA is trusted, the impostor gets the header",
    async () => {
      const { program } = await spawnLocal(
        [...quiet("plain"), ...impostorAccount, "--server-name", "localhost"],
        "alice-secret",
        env,
      );
      try {
        await eventually(() => impostor.received > 0, "the account check's header at the impostor");
      } finally {
        await program.stop();
      }
    },
  );

  await t.step("--ca with the remote's certificate: refused, nothing sent", async () => {
    const sent = impostor.received;
    const { program, port } = await spawnLocal(
      [
        ...quiet("ca"),
        ...impostorAccount,
        "--server-name",
        "localhost",
        "--ca",
        remote.certPath,
      ],
      "alice-secret",
      env,
    );
    try {
      await program.waitFor(/Certificate not trusted/);
      assert(!await gotThrough(port, origin.port), "a request went through the impostor");
      assertEquals(impostor.received, sent, "bytes reached the impostor");
    } finally {
      await program.stop();
    }
  });

  await t.step(
    "a pinned link, the impostor after the first connection: refused, nothing sent",
    async () => {
      const sent = impostor.received;
      const relay = firstThenElsewhere(remote.port, () => impostor.port);
      try {
        const { link } = printedShare(
          await remote.user(
            "link",
            "alice",
            "--new-password",
            "--host",
            "127.0.0.1",
            "--port",
            String(relay.addr.port),
          ),
        );
        await delay(1_000); // the running remote takes the new password up within a second
        const port = freePort();
        const local = new Program(
          localArgs("--listen", `127.0.0.1:${port}`, ...quiet("link"), "--link", link),
          { env },
        );
        try {
          await local.waitFor(/proxy on/);
          await local.waitFor(/not the pinned one/);
          assert(!await gotThrough(port, origin.port), "a request went through the impostor");
          assertEquals(impostor.received, sent, "bytes reached the impostor");
        } finally {
          await local.stop();
        }
      } finally {
        relay.close();
      }
    },
  );
});
