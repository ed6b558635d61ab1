/**
 * The panel's share link: `POST /api/users/NAME/link` gives a new password with its link, QR
 * code and subscription URL, under the same session and CSRF rules as the rest of the API;
 * the link logs in and the subscription serves it; neither is logged.
 */
import { assert, assertEquals } from "../../_assert.ts";
import { parseShareLink } from "../../../lib/protocol/share_link.ts";
import { keyForCredential } from "../../../lib/remote/store/user_store.ts";
import { AdminClient, startAdmin } from "./_admin.ts";
import { LinkVault } from "../../../lib/remote/share/link_vault.ts";

Deno.test("the panel issues a new password with the link, its QR code and a subscription URL", async () => {
  const admin = await startAdmin();
  try {
    const client = new AdminClient(admin.origin);
    const path = "/api/users/alice/link";
    assertEquals((await client.call("POST", path, {})).status, 401, "no session");
    await client.login();
    assertEquals(
      (await client.call("POST", path, {}, { "x-csrf-token": null })).status,
      403,
      "no CSRF token",
    );
    assertEquals((await client.call("POST", "/api/users/nobody/link", {})).status, 404);

    const reply = await client.call("POST", path, { host: "127.0.0.1" });
    assertEquals(reply.status, 200, JSON.stringify(reply.body));
    const { password, link, qr, subscription } = reply.body;
    const parsed = parseShareLink(link);
    assertEquals([parsed.user, parsed.password, parsed.host, parsed.port], [
      "alice",
      password,
      "127.0.0.1",
      admin.remote.port,
    ]);
    assertEquals(parsed.pin?.length, 64);
    assert(/^<svg[\s\S]+<\/svg>$/.test(qr.trim()), "an SVG QR code");
    const user = await admin.remote.store.get("alice");
    assertEquals(user?.key, keyForCredential("alice", password), "the new password is set");

    const client2 = Deno.createHttpClient({
      caCerts: [await Deno.readTextFile(admin.remote.certPath)],
    });
    try {
      const sub = await fetch(subscription, { client: client2 });
      const listed = atob(await sub.text()).trim();
      assertEquals(parseShareLink(listed), parsed, "the subscription serves the same link");
    } finally {
      client2.close();
    }
    const log = admin.remote.program.output;
    assert(!log.includes(password) && !log.includes(subscription.split("/sub/")[1]), log);
  } finally {
    await admin.stop();
  }
});

Deno.test("the panel shows a user's current link again without a new password, once kept", async () => {
  const vaultDir = await Deno.makeTempDir({ prefix: "swiftproxy-vault-" });
  const admin = await startAdmin({}, { alice: "alice-secret" }, {
    linkVault: new LinkVault(vaultDir),
  });
  try {
    const client = new AdminClient(admin.origin);
    const path = "/api/users/alice/link";
    assertEquals((await client.call("GET", path)).status, 401, "no session");
    await client.login();
    assertEquals((await client.call("GET", path)).status, 404, "nothing kept yet");
    assertEquals((await client.call("GET", "/api/users/nobody/link")).status, 404);

    const issued = await client.call("POST", path, { host: "127.0.0.1" });
    assertEquals(issued.status, 200, JSON.stringify(issued.body));
    const shown = await client.call("GET", path);
    assertEquals(shown.status, 200, JSON.stringify(shown.body));
    assertEquals(
      [shown.body.password, shown.body.subscription],
      [issued.body.password, issued.body.subscription],
      "the same password and subscription URL, nothing new issued",
    );
    const user = await admin.remote.store.get("alice");
    assertEquals(user?.key, keyForCredential("alice", issued.body.password), "unchanged");

    // A password changed elsewhere (the CLI on another machine): not shown, never stale.
    await admin.remote.store.setPassword("alice", "changed-elsewhere-1");
    await admin.remote.server.accounts.reload();
    assertEquals((await client.call("GET", path)).status, 404, "a stale link is not shown");
  } finally {
    await admin.stop();
    await Deno.remove(vaultDir, { recursive: true });
  }
});
