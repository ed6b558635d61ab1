/**
 * The headers apps read on every subscription answer, as curl receives them (`-D`), for each
 * format: usage with all four numbers, the update interval, the title (base64 for non-ASCII),
 * a UTF-8 file name, the user's page and the support link; and a sing-box that pins public keys
 * gets the SPKI hash instead of the embedded leaf.
 */
import { assert, assertEquals } from "../_assert.ts";
import { curl, RemoteFixture } from "../_harness.ts";
import { newLink, spkiSha256 } from "./_share.ts";

/** `GET url` with curl trusting the remote: the header lines (`-D`) by name, and the body. */
async function fetchWithCurl(
  remote: RemoteFixture,
  url: string,
  userAgent = "curl/8",
): Promise<{ headers: Map<string, string[]>; body: string }> {
  const dump = await Deno.makeTempFile();
  try {
    const out = await curl("--cacert", remote.certPath, "-D", dump, "-A", userAgent, url);
    assertEquals(out.code, 0, out.stderr);
    const headers = new Map<string, string[]>();
    for (const line of Deno.readTextFileSync(dump).split("\r\n").slice(1)) {
      const colon = line.indexOf(":");
      if (colon <= 0) continue;
      const name = line.slice(0, colon).toLowerCase();
      headers.set(name, [...headers.get(name) ?? [], line.slice(colon + 1).trim()]);
    }
    return { headers, body: new TextDecoder().decode(out.body) };
  } finally {
    await Deno.remove(dump);
  }
}

/** The one value of header `name`; fails when it is absent or repeated. */
function one(headers: Map<string, string[]>, name: string): string {
  const values = headers.get(name) ?? [];
  assertEquals(values.length, 1, `${name}: ${JSON.stringify(values)}`);
  return values[0]!;
}

/** The file name a `Content-Disposition` gives, from its `filename*` (RFC 8187). */
function filenameOf(disposition: string): string {
  const star = /;\s*filename\*=UTF-8''([^;\s]+)/.exec(disposition);
  assert(star, `no filename* in ${disposition}`);
  const ascii = /;\s*filename="([\x20-\x7e]*)"/.exec(disposition);
  assert(ascii && !/[^\x20-\x7e]/.test(ascii[1]!), `an ASCII filename too: ${disposition}`);
  return decodeURIComponent(star[1]!);
}

const FORMATS = [
  ["base64", "", "curl/8", "txt"],
  ["clash (path)", "/clash", "curl/8", "yaml"],
  ["clash (User-Agent)", "", "clash.meta/v1.19.0", "yaml"],
  ["sing-box (path)", "/singbox", "curl/8", "json"],
  ["sing-box (User-Agent)", "", "SFA/1.11.4 (sing-box 1.11.4)", "json"],
] as const;

Deno.test("every subscription answer carries the headers apps read, in each format", async () => {
  const name = "家里的 VPN";
  const remote = await RemoteFixture.start({ alice: "alice-secret" }, [
    "--name",
    name,
    "--sub-update-hours",
    "6",
    "--support-url",
    "https://help.example.org/swiftproxy",
  ]);
  try {
    await remote.user("set", "alice", "--quota", "5GiB", "--expires", "2031-06-30");
    const url = (await newLink(remote, "alice")).subscription!;
    for (const [how, suffix, userAgent, extension] of FORMATS) {
      const { headers } = await fetchWithCurl(remote, url + suffix, userAgent);
      const usage = one(headers, "subscription-userinfo");
      assert(
        /^upload=\d+; download=\d+; total=\d+; expire=\d+$/.test(usage),
        `${how}: ${usage}`,
      );
      assert(usage.includes(`total=${5 * 2 ** 30}`), usage);
      // `--expires DATE` is the end of that day, UTC.
      assert(usage.endsWith(`expire=${Date.UTC(2031, 5, 30, 23, 59, 59) / 1000}`), usage);
      assertEquals(one(headers, "profile-update-interval"), "6", how);
      const title = one(headers, "profile-title");
      assert(title.startsWith("base64:"), `${how}: non-ASCII goes as base64: ${title}`);
      const decoded = Uint8Array.from(atob(title.slice(7)), (c) => c.charCodeAt(0));
      assertEquals(new TextDecoder().decode(decoded), name, how);
      const disposition = one(headers, "content-disposition");
      assert(disposition.startsWith("attachment;"), disposition);
      assertEquals(filenameOf(disposition), `${name}.${extension}`, how);
      assertEquals(one(headers, "profile-web-page-url"), url, `${how}: the user's page`);
      assertEquals(one(headers, "support-url"), "https://help.example.org/swiftproxy", how);
    }
  } finally {
    await remote.stop();
  }
});

Deno.test("without --name or --support-url: the public host as title, 12 hours, no support-url, 0 for unlimited", async () => {
  const remote = await RemoteFixture.start();
  try {
    const url = (await newLink(remote, "alice")).subscription!;
    for (const [how, suffix, userAgent, extension] of FORMATS) {
      const { headers } = await fetchWithCurl(remote, url + suffix, userAgent);
      assert(
        /^upload=\d+; download=\d+; total=0; expire=0$/.test(one(headers, "subscription-userinfo")),
        how,
      );
      assertEquals(one(headers, "profile-update-interval"), "12", how);
      assertEquals(one(headers, "profile-title"), "127.0.0.1", how);
      assertEquals(filenameOf(one(headers, "content-disposition")), `127.0.0.1.${extension}`);
      assertEquals(one(headers, "profile-web-page-url"), url, how);
      assertEquals(headers.get("support-url"), undefined, how);
    }
  } finally {
    await remote.stop();
  }
});

Deno.test("a sing-box that pins public keys (1.13+) gets the SPKI SHA-256; an older one the leaf", async () => {
  const remote = await RemoteFixture.start();
  try {
    const url = (await newLink(remote, "alice")).subscription!;
    // What sing-box's docs say to run for certificate_public_key_sha256.
    const expected = await spkiSha256(remote.certPath);
    assertEquals(expected.length, 44, "a base64 SHA-256");
    const pinning = await fetchWithCurl(remote, url, "SFA/1.13.0 (sing-box 1.13.0)");
    const tls = JSON.parse(pinning.body).outbounds[0].tls;
    assertEquals(tls.certificate_public_key_sha256, [expected]);
    assertEquals(tls.certificate, undefined, "the key is pinned, the leaf not embedded");
    const older = await fetchWithCurl(remote, url, "SFA/1.12.9 (sing-box 1.12.9)");
    const olderTls = JSON.parse(older.body).outbounds[0].tls;
    assertEquals(olderTls.certificate_public_key_sha256, undefined, "1.12 would refuse the option");
    assert(Array.isArray(olderTls.certificate), "1.12 trusts the embedded leaf");
  } finally {
    await remote.stop();
  }
});
