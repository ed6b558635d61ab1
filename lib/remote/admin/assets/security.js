// @ts-nocheck: a browser page, not part of the Deno program.
/**
 * The panel's security cards: two-factor enrolment for the signed-in admin (a QR code of the
 * TOTP secret, a code to confirm it, ten recovery codes shown once) and the audit log.
 */
import { api } from "/app.js";

const $ = (id) => document.getElementById(id);

async function loadTwoFactor() {
  const me = await api("GET", "/api/session");
  $("tfa-who").textContent = `(${me.admin})`;
  $("tfa-state").textContent = me.twoFactor
    ? `On: signing in asks for a code. ${me.recoveryCodesLeft} recovery codes left.`
    : "Off: signing in asks for the password only.";
  $("tfa-start").hidden = me.twoFactor;
  $("tfa-off").hidden = !me.twoFactor;
}

$("tfa-start").addEventListener("click", async () => {
  const { secret, qr } = await api("POST", "/api/2fa");
  $("tfa-qr").src = `data:image/svg+xml;charset=utf-8,${encodeURIComponent(qr)}`;
  $("tfa-secret").value = secret;
  $("tfa-code").value = "";
  $("tfa-error").hidden = true;
  $("tfa-recovery").hidden = true;
  $("tfa-enrol").hidden = false;
  $("tfa-code").focus();
});

$("tfa-confirm").addEventListener("click", async () => {
  $("tfa-error").hidden = true;
  try {
    const { recoveryCodes } = await api("POST", "/api/2fa/confirm", {
      code: $("tfa-code").value,
    });
    $("tfa-enrol").hidden = true;
    $("tfa-secret").value = "";
    $("tfa-codes").replaceChildren(...recoveryCodes.map((code) => {
      const li = document.createElement("li");
      li.textContent = code;
      return li;
    }));
    $("tfa-recovery").hidden = false;
    await Promise.all([loadTwoFactor(), loadAudit()]);
  } catch (error) {
    $("tfa-error").textContent = error.message;
    $("tfa-error").hidden = false;
  }
});

$("tfa-off").addEventListener("click", async () => {
  if (!confirm("Turn two-factor sign-in off? Signing in will ask for the password only.")) return;
  await api("DELETE", "/api/2fa");
  $("tfa-recovery").hidden = true;
  await Promise.all([loadTwoFactor(), loadAudit()]);
});

async function loadAudit() {
  const who = $("audit-who").value.trim();
  const entries = await api("GET", `/api/audit${who ? `?user=${encodeURIComponent(who)}` : ""}`);
  $("audit-rows").replaceChildren(...entries.map((e) => {
    const tr = document.createElement("tr");
    const change = e.before === null && e.after === null
      ? ""
      : `${e.before ?? "–"} → ${e.after ?? "–"}`;
    for (
      const text of [new Date(e.at).toLocaleString(), e.actor, e.source, e.action, e.target, change]
    ) {
      const td = document.createElement("td");
      td.textContent = text;
      tr.append(td);
    }
    return tr;
  }));
}

$("audit-who").addEventListener("change", () => loadAudit().catch(() => {}));

document.addEventListener("panel-shown", () => {
  loadTwoFactor().catch(() => {});
  loadAudit().catch(() => {});
});
