/**
 * Signals of a running remote: SIGTERM stops accepting, lets open connections finish for
 * `--grace`, writes the usage and exits 0; SIGHUP swaps the certificate for new connections
 * while open ones carry on.
 */
import { assert, assertEquals } from "../_assert.ts";
import { delay, randomBytes, RemoteFixture } from "../_harness.ts";
import { createCertificate, fingerprint } from "../../lib/remote/store/certificate.ts";
import { startEcho, Tunnel, usage } from "./_tunnel.ts";

const ALICE = "alice:alice-secret";
const KiB = 1024;

async function refusesConnections(port: number): Promise<boolean> {
  try {
    const conn = await Deno.connect({ hostname: "127.0.0.1", port });
    conn.close();
    return false;
  } catch (error) {
    return error instanceof Deno.errors.ConnectionRefused;
  }
}

Deno.test("SIGTERM: open transfers finish, new ones are refused, usage is written, exit 0", async () => {
  const remote = await RemoteFixture.start(undefined, ["--grace", "20"]);
  const echo = startEcho();
  try {
    const tunnel = await Tunnel.open(remote, ALICE, echo.port);
    const first = randomBytes(256 * KiB, 1);
    assertEquals(await tunnel.echo(first), first);

    const signalled = Date.now();
    remote.program.child.kill("SIGTERM");
    await remote.program.waitFor(/stopping/);
    assert(await refusesConnections(remote.port), "a new connection was accepted after SIGTERM");

    const second = randomBytes(256 * KiB, 2);
    assertEquals(await tunnel.echo(second), second, "the open tunnel broke on SIGTERM");
    tunnel.close();
    const closed = Date.now();

    const status = await remote.program.status;
    assertEquals(status.code, 0, `exit code; output:\n${remote.program.output}`);
    const afterLast = Date.now() - closed;
    assert(afterLast < 8_000, `exited ${afterLast} ms after the last connection closed`);
    assert(Date.now() - signalled < 20_000, "did not exit within the grace period");

    const used = await usage(remote, "alice");
    assertEquals([used.bytesUp, used.bytesDown], [512 * KiB, 512 * KiB], "usage in users.db");
  } finally {
    echo.close();
    await remote.stop();
  }
});

Deno.test("SIGTERM: a transfer longer than --grace is cut at the grace, usage is written", async () => {
  const remote = await RemoteFixture.start(undefined, ["--grace", "2"]);
  const echo = startEcho();
  try {
    const tunnel = await Tunnel.open(remote, ALICE, echo.port);
    const chunk = randomBytes(16 * KiB, 3);
    let cutAt = 0;
    assertEquals(await tunnel.echo(chunk), chunk, "the tunnel works before SIGTERM");
    // Counted from the start: the remote charges this first chunk too.
    let confirmed = chunk.length;
    let sent = chunk.length;
    const signalled = Date.now();
    remote.program.child.kill("SIGTERM");
    // Keep transferring, as a long download would, until the remote cuts the tunnel.
    for (;;) {
      try {
        sent += chunk.length;
        assertEquals(await tunnel.echo(chunk), chunk);
        confirmed += chunk.length;
      } catch {
        cutAt = Date.now() - signalled;
        break;
      }
      if (Date.now() - signalled > 30_000) break;
      await delay(100);
    }
    tunnel.close();
    const status = await remote.program.status;
    const exitedAt = Date.now() - signalled;
    assertEquals(status.code, 0, `exit code; output:\n${remote.program.output}`);
    assert(cutAt > 0, "the transfer was never cut");
    assert(cutAt >= 1_500 && cutAt < 10_000, `cut ${cutAt} ms after SIGTERM, grace 2 s`);
    assert(exitedAt >= 1_500 && exitedAt < 12_000, `exited ${exitedAt} ms after SIGTERM`);
    assert(confirmed >= 6 * chunk.length, `only ${confirmed} bytes went through during the grace`);

    const used = await usage(remote, "alice");
    assert(
      used.bytesUp >= confirmed && used.bytesUp <= sent,
      `bytesUp ${used.bytesUp}, expected ${confirmed}..${sent}`,
    );
    assert(
      used.bytesDown >= confirmed && used.bytesDown <= used.bytesUp,
      `bytesDown ${used.bytesDown}, expected ${confirmed}..${used.bytesUp}`,
    );
  } finally {
    echo.close();
    await remote.stop();
  }
});

/** The SHA-256 fingerprint of the certificate the server at `port` presents, per openssl. */
async function servedFingerprint(port: number): Promise<string> {
  const client = await new Deno.Command("openssl", {
    args: ["s_client", "-connect", `127.0.0.1:${port}`, "-servername", "localhost"],
    stdin: "null",
    stdout: "piped",
    stderr: "null",
  }).output();
  const pem = new TextDecoder().decode(client.stdout).match(
    /-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/,
  );
  if (!pem) throw new Error("openssl s_client got no certificate");
  const x509 = new Deno.Command("openssl", {
    args: ["x509", "-noout", "-fingerprint", "-sha256"],
    stdin: "piped",
    stdout: "piped",
  }).spawn();
  const writer = x509.stdin.getWriter();
  await writer.write(new TextEncoder().encode(pem[0] + "\n"));
  await writer.close();
  const out = new TextDecoder().decode((await x509.output()).stdout);
  return out.trim().replace(/^.*Fingerprint=/i, "").toUpperCase();
}

Deno.test("SIGHUP: new connections get the new certificate, an open transfer survives", async () => {
  const remote = await RemoteFixture.start();
  const echo = startEcho();
  const tunnels: Tunnel[] = [];
  try {
    const oldCert = Deno.readTextFileSync(remote.certPath);
    const oldPrint = fingerprint(oldCert);
    assertEquals(await servedFingerprint(remote.port), oldPrint);
    const open = await Tunnel.open(remote, ALICE, echo.port);
    tunnels.push(open);
    const before = randomBytes(128 * KiB, 4);
    assertEquals(await open.echo(before), before);

    const renewed = await createCertificate(["localhost", "127.0.0.1"]);
    const newPrint = fingerprint(renewed.cert);
    Deno.writeTextFileSync(`${remote.dir}/tls/key.pem`, renewed.key);
    Deno.writeTextFileSync(remote.certPath, renewed.cert);
    remote.program.child.kill("SIGHUP");
    await remote.program.waitFor(/reloaded the certificate[^\n]*\ncertificate SHA-256: [0-9A-F:]+/);
    assert(remote.program.output.includes(`certificate SHA-256: ${newPrint}`), "new fingerprint");

    assertEquals(await servedFingerprint(remote.port), newPrint);
    const fresh = await Tunnel.open(remote, ALICE, echo.port, renewed.cert);
    tunnels.push(fresh);
    const data = randomBytes(64 * KiB, 5);
    assertEquals(await fresh.echo(data), data);
    let oldTrusted = true;
    try {
      tunnels.push(await Tunnel.open(remote, ALICE, echo.port, oldCert));
    } catch {
      oldTrusted = false;
    }
    assert(!oldTrusted, "a client trusting only the old certificate still connected");

    const after = randomBytes(128 * KiB, 6);
    assertEquals(await open.echo(after), after, "the open tunnel broke on SIGHUP");

    // A broken pair is refused and the current one stays in service.
    Deno.writeTextFileSync(remote.certPath, "not a certificate\n");
    remote.program.child.kill("SIGHUP");
    await remote.program.waitFor(/reload failed, keeping the current certificate/);
    assertEquals(await servedFingerprint(remote.port), newPrint);
    assertEquals(await open.echo(data), data);
  } finally {
    for (const tunnel of tunnels) tunnel.close();
    echo.close();
    await remote.stop();
  }
});
