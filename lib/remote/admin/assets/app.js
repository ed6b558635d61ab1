// @ts-nocheck: a browser page (DOM, uPlot from /uplot.js), not part of the Deno program.
/**
 * The admin panel: signs in, lists the users with their live rates (a WebSocket message each
 * second), adds, edits, disables, resets and removes them, lists and disconnects a user's
 * connections, and charts usage with uPlot. Every change is a JSON call with the session's
 * CSRF token.
 */
import { formatBytes } from "/format_bytes.js";
import { date, day, number, size, t } from "/i18n.js";

const $ = (id) => document.getElementById(id);
const state = {
  csrf: "",
  users: [],
  selected: null,
  ranges: { server: "24h", user: "24h" },
  /** The users ticked for a bulk change, and the group shown. */
  picked: new Set(),
  group: "",
};
const charts = {};

const rate = (n) => t("admin.perSecond", { size: size(n, "0 B", "steady") });
const limit = (n) => (n === 0 ? t("admin.unlimited") : rate(n));
/** A day as `<input type=date>` takes it (the API's form too): `2026-01-31`, in UTC. */
const isoDay = (ms) => new Date(ms).toISOString().slice(0, 10);

/**
 * `key`'s text into `el`, its `{n}` as a bold `<b id=…>` holding `value` (so tests and
 * styles find the figure whatever the language puts around it).
 */
function withFigure(el, key, id, value) {
  const [before = "", after = ""] = t(key).split("{n}");
  const b = document.createElement("b");
  b.id = id;
  b.textContent = value;
  el.replaceChildren(before, b, after);
}

export async function api(method, path, body) {
  const headers = { "x-csrf-token": state.csrf };
  if (body !== undefined) headers["content-type"] = "application/json";
  const response = await fetch(path, {
    method,
    headers,
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const data = await response.json().catch(() => ({}));
  if (response.status === 401 && path !== "/api/login") showLogin();
  if (!response.ok) {
    throw Object.assign(new Error(data.error ?? `HTTP ${response.status}`), {
      needCode: Boolean(data.needCode),
    });
  }
  return data;
}

function toast(message, bad = false) {
  const el = $("toast");
  el.textContent = message;
  el.classList.toggle("bad", bad);
  el.hidden = false;
  clearTimeout(toast.timer);
  toast.timer = setTimeout(() => el.hidden = true, 3500);
}

// ---- signing in --------------------------------------------------------------------------

function showLogin() {
  document.body.dataset.view = "login";
  $("login-view").hidden = false;
  $("panel-view").hidden = true;
  $("logout").hidden = true;
  $("server-now").hidden = true;
  socket?.close();
  socket = null;
  $("login-code-label").hidden = true;
  // Several admins: the form asks whose sign-in it is.
  fetch("/api/login").then((r) => r.json()).then(({ askName }) => {
    $("login-name-label").hidden = !askName;
    $("login-name").required = askName;
    (askName && !$("login-name").value ? $("login-name") : $("login-password")).focus();
  }).catch(() => $("login-password").focus());
}

function showPanel() {
  document.body.dataset.view = "panel";
  $("login-view").hidden = true;
  $("panel-view").hidden = false;
  $("logout").hidden = false;
  $("server-now").hidden = false;
  connect();
  loadChart("server");
  document.dispatchEvent(new Event("panel-shown"));
}

$("login-form").addEventListener("submit", async (event) => {
  event.preventDefault();
  $("login-error").hidden = true;
  $("login").disabled = true;
  try {
    const { csrf } = await api("POST", "/api/login", {
      name: $("login-name").value,
      password: $("login-password").value,
      code: $("login-code").value,
    });
    state.csrf = csrf;
    $("login-password").value = "";
    $("login-code").value = "";
    showPanel();
  } catch (error) {
    // The password was right and the admin has a second factor: ask for the code.
    if (error.needCode) {
      $("login-code-label").hidden = false;
      $("login-code").value = "";
      $("login-code").focus();
    }
    $("login-error").textContent = error.message;
    $("login-error").hidden = false;
  } finally {
    $("login").disabled = false;
  }
});

$("logout").addEventListener("click", async () => {
  await api("POST", "/api/logout").catch(() => {});
  state.csrf = "";
  showLogin();
});

// ---- live users over the WebSocket --------------------------------------------------------

let socket = null;

function connect() {
  if (socket) return;
  const ws = new WebSocket(
    `${location.protocol === "https:" ? "wss" : "ws"}://${location.host}/api/ws`,
  );
  socket = ws;
  ws.onmessage = (event) => {
    $("link").hidden = true;
    render(JSON.parse(event.data));
  };
  ws.onclose = () => {
    if (socket !== ws) return;
    socket = null;
    if (document.body.dataset.view !== "panel") return;
    $("link").hidden = false;
    // The session may have expired: the next call finds out and shows the login.
    setTimeout(() => api("GET", "/api/session").then(connect).catch(() => {}), 2000);
  };
}

function render(message) {
  state.users = message.users;
  $("srv-up").textContent = rate(message.server.rate.up);
  $("srv-down").textContent = rate(message.server.rate.down);
  withFigure($("srv-open-text"), "admin.serverOpen", "srv-open", number(message.server.open));
  $("user-count").textContent = number(message.users.length);
  $("users-empty").hidden = message.users.length > 0;
  $("users").hidden = message.users.length === 0;
  const tbody = $("user-rows");
  const rows = new Map([...tbody.children].map((tr) => [tr.dataset.user, tr]));
  message.users.forEach((user, index) => {
    let tr = rows.get(user.name);
    if (!tr) tr = newRow(user.name);
    rows.delete(user.name);
    if (tbody.children[index] !== tr) tbody.insertBefore(tr, tbody.children[index] ?? null);
    fillRow(tr, user);
  });
  for (const tr of rows.values()) tr.remove();
  renderGroups(message.users);
  if (state.selected) {
    const user = message.users.find((u) => u.name === state.selected);
    if (user) fillDetail(user);
    else closeDetail();
  }
  document.body.dataset.updates = String(Number(document.body.dataset.updates ?? 0) + 1);
}

/** The group filter's choices, and which rows it shows; the bulk bar's count. */
function renderGroups(users) {
  const select = $("group-filter");
  const groups = [...new Set(users.map((u) => u.group).filter(Boolean))].sort();
  const have = [...select.options].slice(1).map((o) => o.value);
  if (have.join("\n") !== groups.join("\n")) {
    select.replaceChildren(select.options[0]);
    for (const g of groups) select.append(new Option(g, g));
    select.value = groups.includes(state.group) ? state.group : "";
    state.group = select.value;
  }
  const names = new Set(users.map((u) => u.name));
  for (const name of state.picked) if (!names.has(name)) state.picked.delete(name);
  for (const tr of $("user-rows").children) {
    const user = users.find((u) => u.name === tr.dataset.user);
    tr.hidden = Boolean(state.group) && user?.group !== state.group;
    if (tr.hidden) state.picked.delete(tr.dataset.user);
    tr.querySelector(".pick-box").checked = state.picked.has(tr.dataset.user);
  }
  $("bulk").hidden = state.picked.size === 0;
  withFigure($("bulk-text"), "admin.bulk.selected", "bulk-count", number(state.picked.size));
}

$("group-filter").addEventListener("change", () => {
  state.group = $("group-filter").value;
  renderGroups(state.users);
});

$("pick-all").addEventListener("change", () => {
  for (const tr of $("user-rows").children) {
    if (tr.hidden) continue;
    if ($("pick-all").checked) state.picked.add(tr.dataset.user);
    else state.picked.delete(tr.dataset.user);
  }
  renderGroups(state.users);
});

async function bulk(action, limits) {
  const names = [...state.picked];
  const result = await api("POST", "/api/users-bulk", { names, action, limits });
  const failed = Object.keys(result.failed).length;
  toast(
    t(failed ? "admin.bulk.doneRefused" : "admin.bulk.done", {
      action: t(`admin.bulk.action.${action}`),
      n: number(result.changed),
      refused: number(failed),
    }),
    failed > 0,
  );
  if (action === "delete") state.picked.clear();
}

for (const action of ["enable", "disable", "delete"]) {
  $(`bulk-${action}`).addEventListener("click", async () => {
    const n = state.picked.size;
    if (action === "delete" && !confirm(t("admin.bulk.confirmDelete", { n: number(n) }))) {
      return;
    }
    await bulk(action).catch((error) => toast(error.message, true));
  });
}
$("bulk-set").addEventListener("click", () => openEditor(null, [...state.picked]));

/** Text safe inside an element or a quoted attribute. */
const html = (text) => text.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);

const CELLS = `
  <td class="pick"><input type="checkbox" class="pick-box" aria-label="${
  html(t("admin.pick"))
}"></td>
  <td class="who"><button class="name" type="button"></button><span class="badge"></span>
    <div class="limits muted"></div></td>
  <td data-label="${
  html(t("admin.col.rate"))
}"><div class="rates"><span class="up"></span><span class="down"></span></div></td>
  <td class="wide" data-label="${
  html(t("admin.col.usage"))
}"><span class="usage"></span><div class="bar"><div></div></div></td>
  <td data-label="${html(t("admin.col.expires"))}" class="expires"></td>
  <td data-label="${
  html(t("admin.col.resets"))
}"><span class="resets"></span><div class="next"></div></td>
  <td data-label="${
  html(t("admin.col.connections"))
}"><span class="conns"></span><div class="sources"></div></td>
  <td class="actions"><div class="row-actions">
    <button type="button" data-do="edit">${html(t("admin.edit"))}</button>
    <button type="button" data-do="toggle"></button>
    <button type="button" data-do="reset-usage">${html(t("admin.resetUsage"))}</button>
    <button type="button" data-do="remove" class="danger">${html(t("admin.remove"))}</button>
  </div></td>`;

function newRow(name) {
  const tr = document.createElement("tr");
  tr.dataset.user = name;
  tr.innerHTML = CELLS;
  return tr;
}

function fillRow(tr, u) {
  const q = (selector) => tr.querySelector(selector);
  q(".name").textContent = u.name;
  const badge = q(".badge");
  badge.textContent = t(`admin.status.${u.status.replace(" ", "-")}`);
  badge.className = `badge ${u.status.replace(" ", "-")}`;
  const blocked = Object.values(u.blocked ?? {}).reduce((sum, n) => sum + n, 0);
  q(".limits").textContent = [
    `↑ ${limit(u.upLimit)}`,
    `↓ ${limit(u.downLimit)}`,
    u.maxConns ? t("admin.limits.maxConns", { n: number(u.maxConns) }) : "",
    u.maxIps ? t("admin.limits.places", { n: number(u.places), max: number(u.maxIps) }) : "",
    u.group ? t("admin.limits.group", { group: u.group }) : "",
    u.blockList ? t("admin.limits.blockList") : "",
    blocked ? t("admin.limits.blocked", { n: number(blocked) }) : "",
  ].filter(Boolean).join(" · ");
  q(".rates .up").textContent = `↑ ${rate(u.rate.up)}`;
  q(".rates .down").textContent = `↓ ${rate(u.rate.down)}`;
  const share = u.quota > 0 ? Math.min(1, u.used / u.quota) : 0;
  q(".usage").textContent = u.quota > 0
    ? t("admin.usage.ofQuota", {
      used: size(u.used),
      quota: size(u.quota),
      percent: number(Math.floor(share * 100)),
    })
    : t("admin.usage.noQuota", { used: size(u.used) });
  const bar = q(".bar");
  bar.hidden = u.quota === 0;
  bar.classList.toggle("warn", share >= 0.8 && share < 1);
  bar.classList.toggle("full", share >= 1);
  bar.firstElementChild.style.width = `${share * 100}%`;
  q(".expires").textContent = u.expiresAfter !== null
    ? t("admin.onHold", { duration: spoken(u.expiresAfter) })
    : u.expiresAt === null
    ? t("admin.never")
    : day(u.expiresAt);
  q(".resets").textContent = u.reset === "monthly" && u.resetDay
    ? t("admin.resetDay", { n: number(u.resetDay) })
    : u.reset
    ? t(`admin.period.${u.reset}`)
    : t("admin.never");
  q(".next").textContent = u.nextResetAt ? t("admin.nextReset", { date: day(u.nextResetAt) }) : "";
  q(".conns").textContent = u.maxConns
    ? t("admin.ofMax", { n: number(u.openConns), max: number(u.maxConns) })
    : number(u.openConns);
  q(".sources").textContent = u.sources.join(", ");
  q("[data-do=toggle]").textContent = t(u.enabled ? "admin.disable" : "admin.enable");
  tr.classList.toggle("selected", state.selected === u.name);
}

/** A duration in words of the page's language: `30 days`, `2 weeks`, `12 hours`. */
function spoken(ms) {
  if (ms % 604_800_000 === 0) return t("admin.weeks", { n: number(ms / 604_800_000) });
  if (ms % 86_400_000 === 0) return t("admin.days", { n: number(ms / 86_400_000) });
  return t("admin.hours", { n: number(Math.round(ms / 3_600_000)) });
}

/** A duration in milliseconds as `--expires-after` takes it: `30d`, `2w`, `12h`. */
function duration(ms) {
  if (ms % 604_800_000 === 0) return `${ms / 604_800_000}w`;
  if (ms % 86_400_000 === 0) return `${ms / 86_400_000}d`;
  return `${Math.round(ms / 3_600_000)}h`;
}

$("user-rows").addEventListener("change", (event) => {
  if (!event.target.classList.contains("pick-box")) return;
  const name = event.target.closest("tr").dataset.user;
  if (event.target.checked) state.picked.add(name);
  else state.picked.delete(name);
  renderGroups(state.users);
});

$("user-rows").addEventListener("click", async (event) => {
  const button = event.target.closest("button");
  if (!button) return;
  const name = button.closest("tr").dataset.user;
  const user = state.users.find((u) => u.name === name);
  if (button.classList.contains("name")) return openDetail(name);
  const path = `/api/users/${encodeURIComponent(name)}`;
  try {
    switch (button.dataset.do) {
      case "edit":
        return openEditor(user);
      case "toggle":
        await api("POST", `${path}/${user.enabled ? "disable" : "enable"}`);
        return toast(t(user.enabled ? "admin.toast.disabled" : "admin.toast.enabled", { name }));
      case "reset-usage":
        if (!confirm(t("admin.confirm.resetUsage", { name }))) return;
        await api("POST", `${path}/reset-usage`);
        return toast(t("admin.toast.usageReset", { name }));
      case "remove":
        if (!confirm(t("admin.confirm.remove", { name }))) return;
        await api("DELETE", path);
        return toast(t("admin.toast.removed", { name }));
    }
  } catch (error) {
    toast(error.message, true);
  }
});

// ---- one user's details ------------------------------------------------------------------

function openDetail(name) {
  if (state.selected !== name) {
    clearShare();
    showKeptShare(name);
  }
  state.selected = name;
  $("detail").hidden = false;
  $("detail-name").textContent = name;
  const user = state.users.find((u) => u.name === name);
  if (user) fillDetail(user);
  for (const tr of $("user-rows").children) {
    tr.classList.toggle("selected", tr.dataset.user === name);
  }
  loadChart("user");
  $("detail").scrollIntoView({ behavior: "smooth", block: "nearest" });
}

// ---- share link ------------------------------------------------------------------------------

function clearShare() {
  $("share-result").hidden = true;
  for (const id of ["share-link", "share-sub", "share-password"]) $(id).value = "";
  $("share-qr").removeAttribute("src");
}

function showShare(answer) {
  $("share-qr").src = `data:image/svg+xml;base64,${btoa(answer.qr)}`;
  $("share-link").value = answer.link;
  $("share-sub").value = answer.subscription;
  $("share-password").value = answer.password;
  $("share-result").hidden = false;
}

/** The user's current link, when the server keeps it: shown without a new password. */
async function showKeptShare(name) {
  try {
    const answer = await api("GET", `/api/users/${encodeURIComponent(name)}/link`);
    if (state.selected === name) showShare(answer);
  } catch {
    // none kept (made elsewhere, or changed since): "New password and link" issues one
  }
}

$("share-issue").addEventListener("click", async () => {
  const name = state.selected;
  if (!name) return;
  if (!confirm(t("admin.confirm.newLink", { name }))) return;
  try {
    const path = `/api/users/${encodeURIComponent(name)}/link`;
    const answer = await api("POST", path, { host: $("share-host").value });
    if (state.selected !== name) return;
    showShare(answer);
  } catch (error) {
    toast(error.message, true);
  }
});

function closeDetail() {
  clearShare();
  state.selected = null;
  $("detail").hidden = true;
  for (const tr of $("user-rows").children) tr.classList.remove("selected");
}

$("detail-close").addEventListener("click", closeDetail);

function fillDetail(user) {
  $("conn-count").textContent = number(user.openConns);
  $("conn-empty").hidden = user.connections.length > 0;
  const list = $("connections");
  const items = new Map([...list.children].map((li) => [li.dataset.id, li]));
  for (const c of user.connections) {
    let li = items.get(String(c.id));
    items.delete(String(c.id));
    if (!li) {
      li = document.createElement("li");
      li.dataset.id = String(c.id);
      li.innerHTML = `<span class="what"></span><span class="muted age"></span>` +
        `<button type="button" class="danger ghost">${html(t("admin.disconnect"))}</button>`;
      list.append(li);
    }
    li.querySelector(".what").textContent = `${c.client} → ${c.destination}`;
    li.querySelector(".age").textContent = age(Date.now() - c.startedAt);
  }
  for (const li of items.values()) li.remove();
}

function age(ms) {
  const s = Math.max(0, Math.round(ms / 1000));
  return s < 60
    ? t("admin.age.seconds", { n: number(s) })
    : s < 3600
    ? t("admin.age.minutes", { n: number(Math.floor(s / 60)) })
    : t("admin.age.hours", { n: number(Math.floor(s / 3600)) });
}

$("connections").addEventListener("click", async (event) => {
  const button = event.target.closest("button");
  if (!button) return;
  const li = button.closest("li");
  button.disabled = true;
  try {
    await api("POST", `/api/connections/${li.dataset.id}/disconnect`);
    li.remove();
    toast(t("admin.toast.disconnected"));
  } catch (error) {
    button.disabled = false;
    toast(error.message, true);
  }
});

// ---- charts --------------------------------------------------------------------------------

for (const group of document.querySelectorAll(".range")) {
  group.addEventListener("click", (event) => {
    const button = event.target.closest("button");
    if (!button) return;
    for (const b of group.children) b.classList.toggle("on", b === button);
    state.ranges[group.dataset.chart] = button.dataset.range;
    loadChart(group.dataset.chart);
  });
}

const BINARY_STEPS = [];
for (let unit = 1; unit <= 1024 ** 5; unit *= 1024) {
  for (const m of [1, 2, 4, 8, 16, 32, 64, 128, 256, 512]) BINARY_STEPS.push(m * unit);
}

/** The buckets from the API, with the empty ones filled in as zeros so the line is true. */
function series(points, range) {
  const step = range === "24h" ? 60 : 86400;
  const count = range === "24h" ? 24 * 60 : 90;
  const now = Math.floor(Date.now() / 1000 / step) * step;
  const byTime = new Map(points.map((p) => [p.at / 1000, p]));
  const xs = [];
  const up = [];
  const down = [];
  for (let t = now - (count - 1) * step; t <= now; t += step) {
    xs.push(t);
    up.push(byTime.get(t)?.up ?? 0);
    down.push(byTime.get(t)?.down ?? 0);
  }
  return [xs, up, down];
}

async function loadChart(which) {
  const range = state.ranges[which];
  const user = which === "user" ? state.selected : null;
  if (which === "user" && !user) return;
  const query = new URLSearchParams({ range, ...(user ? { user } : {}) });
  let data;
  try {
    data = await api("GET", `/api/history?${query}`);
  } catch {
    return;
  }
  const target = $(`${which}-chart`);
  const per = range === "24h" ? "Minute" : "Day";
  // Times in the page's language (uPlot's own are English), hours for a day, days for 90.
  const ticks = new Intl.DateTimeFormat(document.documentElement.lang, {
    ...(range === "24h"
      ? { hour: "2-digit", minute: "2-digit" }
      : { month: "short", day: "numeric" }),
  });
  const width = Math.max(200, target.clientWidth);
  const options = {
    width,
    height: 220,
    legend: { show: true },
    cursor: { drag: { x: false, y: false } },
    scales: { x: { time: true } },
    axes: [
      {
        stroke: "#6a7385",
        grid: { stroke: "#eef1f5" },
        values: (_u, seconds) => seconds.map((s) => ticks.format(s * 1000)),
      },
      {
        stroke: "#6a7385",
        grid: { stroke: "#eef1f5" },
        size: 70,
        // Binary steps, so the ticks read 4 MiB, 8 MiB rather than 4.77 MiB, 9.54 MiB.
        incrs: BINARY_STEPS,
        values: (_u, ticks) => ticks.map((tick) => size(tick)),
      },
    ],
    series: [
      { label: t("admin.chart.time"), value: (_u, s) => s == null ? "–" : date(s * 1000) },
      {
        label: t(`admin.chart.up${per}`),
        stroke: "#d9822b",
        fill: "rgba(217,130,43,0.08)",
        value: (_u, v) => v == null ? "–" : size(v),
      },
      {
        label: t(`admin.chart.down${per}`),
        stroke: "#2f9e6b",
        fill: "rgba(47,158,107,0.12)",
        value: (_u, v) => v == null ? "–" : size(v),
      },
    ],
  };
  charts[which]?.destroy();
  charts[which] = new uPlot(options, series(data.points, range), target);
  document.body.dataset[`${which}Points`] = String(data.points.length);
}

// The history is written every few seconds: keep the charts fresh, and fit them to the page.
setInterval(() => {
  if (document.body.dataset.view !== "panel") return;
  loadChart("server");
  if (state.selected) loadChart("user");
}, 10_000);

let resizeTimer;
addEventListener("resize", () => {
  clearTimeout(resizeTimer);
  resizeTimer = setTimeout(() => {
    for (const [which, chart] of Object.entries(charts)) {
      chart.setSize({ width: Math.max(200, $(`${which}-chart`).clientWidth), height: 220 });
    }
  }, 150);
});

// ---- add and edit ------------------------------------------------------------------------

for (let d = 0; d <= 28; d++) {
  const option = document.createElement("option");
  option.value = String(d);
  option.textContent = d === 0 ? t("admin.noMonthlyReset") : t("admin.monthDay", { n: number(d) });
  $("f-reset").append(option);
}

let editing = null;
/** The users a bulk "Set…" changes (the editor then sends only the fields filled in). */
let bulkNames = null;

/** A stored byte count as the form shows it: `2 MiB` when that reads back exactly, else bytes. */
function amount(n) {
  if (n === 0) return "";
  const text = formatBytes(n);
  const [value, unit] = text.split(" ");
  const factor = { B: 1, KiB: 1024, MiB: 1024 ** 2, GiB: 1024 ** 3, TiB: 1024 ** 4 }[unit];
  return factor && Number(value) * factor === n ? `${value}${unit}` : String(n);
}

/** The form's labels for the API's field names, so a refusal names what the admin sees. */
const LABELS = [
  "name",
  "password",
  "upLimit",
  "downLimit",
  "quota",
  "maxConns",
  "expiresAt",
  "resetDay",
  "resetPeriod",
  "maxIps",
  "expiresAfter",
  "group",
];

/** "downLimit: expected …" as "Download limit: expected …". */
function inWords(message) {
  return message.replace(
    /^(\w+)(?=:)/,
    (field) => LABELS.includes(field) ? t(`admin.field.${field}`) : field,
  );
}

function openEditor(user, names = null) {
  editing = user ?? null;
  bulkNames = names;
  $("editor-title").textContent = names
    ? t("admin.editor.bulk", { n: number(names.length) })
    : user
    ? t("admin.editor.edit", { name: user.name })
    : t("admin.addUser");
  $("f-name").value = user?.name ?? "";
  $("f-name").disabled = Boolean(user) || Boolean(names);
  $("f-name").parentElement.hidden = Boolean(names);
  $("f-password-label").hidden = Boolean(user) || Boolean(names);
  $("f-expires-after").value = user?.expiresAfter ? duration(user.expiresAfter) : "";
  $("f-period").value = "";
  $("f-max-ips").value = user?.maxIps ? String(user.maxIps) : "";
  $("f-group").value = user?.group ?? "";
  $("f-password").value = "";
  $("f-up").value = amount(user?.upLimit ?? 0);
  $("f-down").value = amount(user?.downLimit ?? 0);
  $("f-quota").value = amount(user?.quota ?? 0);
  $("f-conns").value = user?.maxConns ? String(user.maxConns) : "";
  $("f-expires").value = user?.expiresAt ? isoDay(user.expiresAt) : "";
  $("f-reset").value = String(user?.resetDay ?? 0);
  if (names) $("f-reset").value = "";
  $("editor-error").hidden = true;
  $("editor").showModal();
  (user ? $("f-down") : $("f-name")).focus();
}

$("add-user").addEventListener("click", () => openEditor(null));
$("editor-cancel").addEventListener("click", () => $("editor").close());

$("editor-form").addEventListener("submit", async (event) => {
  event.preventDefault();
  const body = {
    upLimit: $("f-up").value.trim(),
    downLimit: $("f-down").value.trim(),
    quota: $("f-quota").value.trim(),
    maxConns: $("f-conns").value.trim(),
    expiresAt: $("f-expires").value || null,
    resetDay: Number($("f-reset").value),
    maxIps: $("f-max-ips").value.trim(),
    group: $("f-group").value.trim() || "none",
  };
  const after = $("f-expires-after").value.trim();
  // "never" clears it, in the page's words too (the title says so).
  if (after) body.expiresAfter = after === t("admin.never") ? "never" : after;
  if ($("f-period").value) body.resetPeriod = $("f-period").value;
  if (bulkNames) {
    // Only what was filled in: an empty field leaves each user's own value.
    for (const key of Object.keys(body)) {
      if (body[key] === "" || body[key] === null || (key === "group" && body[key] === "none")) {
        delete body[key];
      }
    }
    if ($("f-reset").value === "") delete body.resetDay;
  }
  $("editor-save").disabled = true;
  try {
    if (bulkNames) {
      await bulk("set", body);
      $("editor").close();
    } else if (editing) {
      await api("PATCH", `/api/users/${encodeURIComponent(editing.name)}`, body);
      $("editor").close();
      toast(t("admin.toast.updated", { name: editing.name }));
    } else {
      const name = $("f-name").value.trim();
      const password = $("f-password").value;
      const result = await api("POST", "/api/users", { ...body, name, password });
      $("editor").close();
      toast(t("admin.toast.added", { name }));
      showSecret(name, result.share);
    }
  } catch (error) {
    $("editor-error").textContent = inWords(error.message);
    $("editor-error").hidden = false;
  } finally {
    $("editor-save").disabled = false;
  }
});

/** The hand-over after adding a user: password, link, QR code and subscription URL. */
function showSecret(name, share) {
  $("secret-user").textContent = name;
  const ok = share && !share.error;
  $("secret-credential").textContent = ok ? `${name}:${share.password}` : "";
  $("secret-password").value = ok ? share.password : "";
  $("secret-link").value = ok ? share.link : "";
  $("secret-sub").value = ok ? share.subscription : "";
  $("secret-qr").hidden = !ok;
  if (ok) $("secret-qr").src = `data:image/svg+xml;base64,${btoa(share.qr)}`;
  $("secret-error").hidden = ok;
  $("secret-error").textContent = ok
    ? ""
    : t("admin.secret.noLink", { why: share?.error ?? t("admin.secret.unknown") });
  $("secret").showModal();
  // The whole link in view, however long (a pinned link is about 200 characters).
  for (const id of ["secret-link", "secret-sub"]) {
    const field = $(id);
    field.style.height = "auto";
    field.style.height = `${field.scrollHeight + 2}px`;
  }
}

$("secret-close").addEventListener("click", () => {
  for (const id of ["secret-password", "secret-link", "secret-sub"]) $(id).value = "";
  $("secret-credential").textContent = "";
  $("secret-qr").removeAttribute("src");
  $("secret").close();
});

for (const button of document.querySelectorAll("button.copy")) {
  button.addEventListener("click", async () => {
    const field = $(button.dataset.copy);
    try {
      await navigator.clipboard.writeText(field.value);
    } catch {
      field.select(); // no clipboard permission (plain HTTP off loopback): select for Ctrl-C
      document.execCommand("copy");
    }
    button.textContent = t("admin.copied");
    setTimeout(() => button.textContent = t("admin.copy"), 1500);
  });
}

// ---- start ---------------------------------------------------------------------------------

api("GET", "/api/session").then(({ csrf }) => {
  state.csrf = csrf;
  showPanel();
}).catch(() => showLogin());
