// @ts-nocheck: a browser page, not part of the Deno program.
/**
 * The panel's security cards: two-factor enrolment for the signed-in admin (a QR code of the
 * TOTP secret, a code to confirm it, ten recovery codes shown once) and the audit log.
 */
import { api } from "/app.js";
import { date, number, t } from "/i18n.js";

const $ = (id) => document.getElementById(id);

async function loadTwoFactor() {
  const me = await api("GET", "/api/session");
  $("tfa-who").textContent = `(${me.admin})`;
  $("tfa-state").textContent = me.twoFactor
    ? t("admin.tfa.on", { n: number(me.recoveryCodesLeft) })
    : t("admin.tfa.offState");
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
  if (!confirm(t("admin.tfa.confirmOff"))) return;
  await api("DELETE", "/api/2fa");
  $("tfa-recovery").hidden = true;
  await Promise.all([loadTwoFactor(), loadAudit()]);
});

/** An audit action (`user.add`) in the page's words; one the catalogue lacks as it is. */
function action(name) {
  const key = `admin.action.${name}`;
  const words = t(key);
  return words === key ? name : words;
}

async function loadAudit() {
  const who = $("audit-who").value.trim();
  const entries = await api("GET", `/api/audit${who ? `?user=${encodeURIComponent(who)}` : ""}`);
  $("audit-rows").replaceChildren(...entries.map((e) => {
    const tr = document.createElement("tr");
    const change = e.before === null && e.after === null
      ? ""
      : `${e.before ?? "–"} → ${e.after ?? "–"}`;
    for (
      const text of [date(e.at), e.actor, e.source, action(e.action), e.target, change]
    ) {
      const td = document.createElement("td");
      td.textContent = text;
      tr.append(td);
    }
    tr.children[3].title = e.action; // as the CLI's audit log and the API name it
    // The fields as stored (`{"quota":0}`): data, in no page language.
    tr.lastElementChild.className = "change";
    return tr;
  }));
}

$("audit-who").addEventListener("change", () => loadAudit().catch(() => {}));

document.addEventListener("panel-shown", () => {
  loadTwoFactor().catch(() => {});
  loadAudit().catch(() => {});
});
