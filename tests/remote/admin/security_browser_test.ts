/// <reference lib="dom" />
/**
 * The panel's security side in Chromium: with two admins the sign-in asks for a name; an admin
 * turns on two-factor sign-in (QR code, secret, a code computed here with otpauth), gets ten
 * recovery codes, sees the change in the audit log, and the next sign-in asks for the code.
 */
import * as OTPAuth from "otpauth";
import { assert, assertEquals } from "../../_assert.ts";
import { launch, text } from "../../dashboard/_chromium.ts";
import { hashPassword } from "../../../lib/remote/admin/password_hash.ts";
import { startAdmin } from "./_admin.ts";

Deno.test("in Chromium: sign in by name, turn on two-factor, see it in the audit log, sign in with a code", async () => {
  const admin = await startAdmin();
  const chromium = await launch();
  try {
    await admin.remote.store.putAdmin("ann", { hash: await hashPassword("ann-password-1") });
    const page = await chromium.browser.newPage();
    const pageErrors: string[] = [];
    page.on("pageerror", (error) => pageErrors.push(String(error)));
    page.on("dialog", (dialog) => dialog.accept());
    await page.goto(`${admin.origin}/`, { waitUntil: "load" });
    await page.waitForSelector("#login-name-label:not([hidden])");
    await page.type("#login-name", "ann");
    await page.type("#login-password", "ann-password-1");
    await page.click("#login");
    await page.waitForSelector("body[data-view=panel]");
    await page.waitForFunction(() => document.getElementById("tfa-who")!.textContent === "(ann)");
    assert((await text(page, "#tfa-state")).startsWith("Off"));

    await page.click("#tfa-start");
    await page.waitForSelector("#tfa-enrol:not([hidden])");
    await page.waitForFunction(
      () => (document.getElementById("tfa-qr") as HTMLImageElement).naturalWidth > 0,
    );
    const secret = await page.$eval("#tfa-secret", (el) => (el as HTMLInputElement).value);
    const totp = new OTPAuth.TOTP({ secret: OTPAuth.Secret.fromBase32(secret) });
    const now = Date.now();
    await page.type("#tfa-code", totp.generate({ timestamp: now }));
    await page.click("#tfa-confirm");
    await page.waitForSelector("#tfa-recovery:not([hidden])");
    assertEquals(await page.$$eval("#tfa-codes li", (li) => li.length), 10);
    await page.waitForFunction(() =>
      document.getElementById("tfa-state")!.textContent!.startsWith("On")
    );
    await page.waitForFunction(() =>
      [...document.querySelectorAll("#audit-rows tr")].some((tr) =>
        tr.textContent!.includes("two-factor on") && tr.children[1]!.textContent === "ann" &&
        (tr.children[3] as HTMLElement).title === "admin.2fa-on"
      )
    );
    const auditText = await text(page, "#audit-rows");
    assert(!auditText.includes(secret), "the secret is not in the audit log");

    await page.click("#logout");
    await page.waitForSelector("body[data-view=login]");
    assertEquals(await page.$eval("#login-name", (el) => (el as HTMLInputElement).value), "ann");
    await page.type("#login-password", "ann-password-1");
    await page.click("#login");
    await page.waitForSelector("#login-code-label:not([hidden])");
    await page.type("#login-code", totp.generate({ timestamp: now + 30_000 }));
    await page.click("#login");
    await page.waitForSelector("body[data-view=panel]");
    assertEquals(pageErrors, []);
  } finally {
    await chromium.close();
    await admin.stop();
  }
});
