/**
 * packaging/install.sh into a staging root (DESTDIR), and the systemd unit it installs, checked
 * by `systemd-analyze verify` and `systemd-analyze security` against that root.
 */
import { assert, assertEquals } from "../_assert.ts";
import { freePort, has, Program, ROOT } from "../_harness.ts";
import { fingerprint } from "../../lib/remote/store/certificate.ts";

const UNIT = "etc/systemd/system/swiftproxy-remote.service";

/** Installs into a fresh staging root with a stand-in binary that runs remote.ts as compiled. */
async function install(root: string, ...args: string[]) {
  const binary = `${root}.bin`;
  // The compiled binary carries -P=remote; this stand-in runs the same program the same way.
  Deno.writeTextFileSync(
    binary,
    `#!/bin/sh\nexec "${Deno.execPath()}" run -P=remote "${ROOT}remote.ts" "$@"\n`,
    { mode: 0o755 },
  );
  const out = await new Deno.Command("bash", {
    args: [`${ROOT}packaging/install.sh`, binary, ...args],
    env: { DESTDIR: root, NO_COLOR: "1" },
    stdin: "null",
  }).output();
  await Deno.remove(binary);
  const text = new TextDecoder();
  return { code: out.code, stdout: text.decode(out.stdout), stderr: text.decode(out.stderr) };
}

function mode(path: string): number {
  return Deno.statSync(path).mode! & 0o777;
}

Deno.test("install.sh: binary, unit, config and data directory in place; next steps printed", async () => {
  const root = await Deno.makeTempDir({ prefix: "swiftproxy-root-" });
  try {
    const result = await install(root, "--san", "vpn.example.org", "--listen", "0.0.0.0:8443");
    assertEquals(result.code, 0, result.stdout + result.stderr);
    assertEquals(mode(`${root}/usr/local/bin/swiftproxy-remote`), 0o755);
    assertEquals(mode(`${root}/${UNIT}`), 0o644);
    assertEquals(
      Deno.readTextFileSync(`${root}/${UNIT}`),
      Deno.readTextFileSync(`${ROOT}packaging/swiftproxy-remote.service`),
    );
    const data = `${root}/var/lib/swiftproxy`;
    assertEquals(mode(data), 0o700);
    assertEquals(mode(`${data}/tls/key.pem`), 0o600);
    assert(Deno.statSync(`${data}/users.db`).isFile);

    // What an operator hands to clients: address, fingerprint, NAME:PASSWORD for Trojan.
    const print = fingerprint(Deno.readTextFileSync(`${data}/tls/cert.pem`));
    assert(result.stdout.includes(print), `fingerprint ${print} not in:\n${result.stdout}`);
    assert(result.stdout.includes("vpn.example.org:8443"), result.stdout);
    assert(result.stdout.includes("NAME:PASSWORD"), result.stdout);
    assert(/user add \w+ --data \/var\/lib\/swiftproxy/.test(result.stdout), result.stdout);
    assert(result.stdout.includes("systemctl enable --now swiftproxy-remote"), result.stdout);

    // The installed config is one `serve` accepts (here with the port moved to loopback).
    const config = `${root}/etc/swiftproxy/remote.toml`;
    assert(Deno.readTextFileSync(config).includes('listen = "0.0.0.0:8443"'));
    const port = freePort();
    const serve = new Program([
      "run",
      "-P=remote",
      `${ROOT}remote.ts`,
      "serve",
      "--config",
      config,
      "--data",
      data,
      "--listen",
      `127.0.0.1:${port}`,
    ]);
    try {
      await serve.waitFor(new RegExp(`listening on 127\\.0\\.0\\.1:${port}`));
      // The fingerprint line follows the listening line (it is printed once the cert is read).
      await serve.waitFor(/certificate SHA-256: /, 5_000).catch(() => {});
      assert(serve.output.includes(print), serve.output);
    } finally {
      assertEquals((await serve.stop()).code, 0);
    }

    // A second run keeps the operator's config and the existing certificate.
    Deno.writeTextFileSync(config, 'listen = "0.0.0.0:9443"\n');
    const again = await install(root);
    assertEquals(again.code, 0, again.stderr);
    assertEquals(Deno.readTextFileSync(config), 'listen = "0.0.0.0:9443"\n');
    assert(again.stdout.includes(print), "the certificate was replaced");
  } finally {
    await Deno.remove(root, { recursive: true });
  }
});

Deno.test("install.sh: refuses a missing binary and unknown options with exit 2", async () => {
  const root = await Deno.makeTempDir({ prefix: "swiftproxy-root-" });
  try {
    for (const args of [["/nonexistent/swiftproxy-remote"], ["/bin/sh", "--port", "1"]]) {
      const out = await new Deno.Command("bash", {
        args: [`${ROOT}packaging/install.sh`, ...args],
        env: { DESTDIR: root },
        stdout: "null",
        stderr: "piped",
      }).output();
      assertEquals(out.code, 2, args.join(" "));
    }
    assertEquals([...Deno.readDirSync(root)], [], "nothing was installed");
  } finally {
    await Deno.remove(root, { recursive: true });
  }
});

/** Makes sure systemd-analyze is present, installing systemd when apt can; false if not. */
async function haveSystemdAnalyze(): Promise<boolean> {
  if (has("systemd-analyze")) return true;
  if (!has("apt-get") || Deno.uid() !== 0) return false;
  await new Deno.Command("apt-get", {
    args: ["install", "-y", "-qq", "--no-install-recommends", "systemd"],
    env: { DEBIAN_FRONTEND: "noninteractive" },
    stdout: "null",
    stderr: "null",
  }).output();
  return has("systemd-analyze");
}

Deno.test({
  name: "unit file: systemd-analyze verify is clean and the sandbox rates OK",
  ignore: !(await haveSystemdAnalyze()),
  async fn() {
    const root = await Deno.makeTempDir({ prefix: "swiftproxy-root-" });
    try {
      assertEquals((await install(root)).code, 0);
      // verify --root resolves everything inside the root: give it systemd's own units and
      // the kill(1) that ExecReload runs.
      await Deno.mkdir(`${root}/usr/lib/systemd`, { recursive: true });
      await new Deno.Command("cp", {
        args: ["-r", "/usr/lib/systemd/system", `${root}/usr/lib/systemd/`],
      }).output();
      await Deno.mkdir(`${root}/bin`, { recursive: true });
      await Deno.copyFile(
        await Deno.realPath("/bin/kill"),
        `${root}/bin/kill`,
      );
      await Deno.chmod(`${root}/bin/kill`, 0o755);

      const verify = await new Deno.Command("systemd-analyze", {
        args: ["verify", `--root=${root}`, "swiftproxy-remote.service"],
        stdin: "null",
      }).output();
      const said = new TextDecoder().decode(verify.stderr) +
        new TextDecoder().decode(verify.stdout);
      assertEquals(verify.code, 0, said);
      // verify exits 0 on unknown keys and bad values too; they show up as messages.
      assertEquals(said.trim(), "", "systemd-analyze verify complained");

      const security = await new Deno.Command("systemd-analyze", {
        args: ["security", "--offline=yes", `--root=${root}`, "swiftproxy-remote.service"],
        stdin: "null",
        env: { SYSTEMD_COLORS: "0" },
      }).output();
      const report = new TextDecoder().decode(security.stdout);
      const level = report.match(/Overall exposure level for \S+: ([\d.]+)/);
      assert(level, `no exposure level in:\n${report}`);
      assert(Number(level[1]) <= 2, `exposure ${level[1]} (0 best, 10 worst):\n${report}`);
      for (
        const setting of [
          "User=/DynamicUser=",
          "NoNewPrivileges=",
          "ProtectSystem=",
          "ProtectHome=",
          "PrivateTmp=",
          "PrivateDevices=",
          "SystemCallFilter=~@mount",
          "RestrictAddressFamilies=~AF_PACKET",
          "CapabilityBoundingSet=~CAP_SYS_ADMIN",
        ]
      ) {
        assert(report.includes(`✓ ${setting} `), `${setting} is not in effect:\n${report}`);
      }
      assert(/✓ ProtectSystem=\s+Service has strict/.test(report), "ProtectSystem is not strict");
    } finally {
      await Deno.remove(root, { recursive: true });
    }
  },
});
