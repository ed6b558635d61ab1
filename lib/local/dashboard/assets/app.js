/**
 * The dashboard page's script: loads the settings, sends Connect/Disconnect, and renders the
 * status the WebSocket pushes every second. A module; byte sizes come from the one formatter
 * the programs use (lib/common/format_bytes.js, served next to this file).
 */
import { formatBytes } from "./format_bytes.js";

const $ = (id) => document.getElementById(id);
const FIELDS = ["listen", "remote", "ca", "serverName", "user", "password"];
let busy = false;
let last = null;

// "steady": three significant figures, so numbers that change every second keep their width.
const bytes = (n) => formatBytes(n, "0 B", "steady");
const rate = (n) => bytes(n) + "/s";
const limit = (n) => n > 0 ? rate(n) : "unlimited";

function age(s) {
  if (s < 60) return s + " s";
  if (s < 3600) return Math.floor(s / 60) + " min " + (s % 60) + " s";
  return Math.floor(s / 3600) + " h " + Math.floor((s % 3600) / 60) + " min";
}

const ESCAPES = { "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" };
const escapeHtml = (text) => String(text).replace(/[&<>"']/g, (c) => ESCAPES[c]);

function showProblem(problem) {
  const box = $("problem");
  box.hidden = !problem;
  box.textContent = problem ? problem.message : "";
  box.dataset.kind = problem ? problem.kind : "";
}

function settingsFromForm() {
  const s = {};
  for (const f of FIELDS) s[f] = $(f).value.trim();
  s.password = $("password").value;
  s.remember = $("remember").checked;
  return s;
}

async function post(path, body) {
  const r = await fetch(path, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify(body || {}),
  });
  return { ok: r.ok, body: await r.json() };
}

function setBusy(value) {
  busy = value;
  $("connect").textContent = value ? "Checking login…" : "Connect";
  if (last) render(last);
  else $("connect").disabled = value;
}

$("form").addEventListener("submit", (event) => {
  event.preventDefault();
  if (busy) return;
  setBusy(true);
  showProblem(null);
  post("/api/connect", settingsFromForm()).then((r) => {
    setBusy(false);
    if (!r.ok) {
      showProblem(r.body.problem);
      return;
    }
    $("password").value = "";
    $("password").placeholder = "known — leave empty to keep it";
    render(r.body);
  }).catch((e) => {
    setBusy(false);
    showProblem({ kind: "dashboard", message: "The dashboard did not answer: " + e.message });
  });
});

$("disconnect").addEventListener("click", () => {
  post("/api/disconnect").then((r) => {
    if (r.ok) render(r.body);
  });
});

fetch("/api/settings").then((r) => r.json()).then((s) => {
  for (const f of FIELDS) if (f !== "password") $(f).value = s[f] || "";
  $("remember").checked = !!s.remember;
  if (s.passwordKnown) $("password").placeholder = "known — leave empty to keep it";
});

function renderAccount(a) {
  $("account").hidden = !a;
  $("account-empty").hidden = !!a;
  if (!a) return;
  $("acc-user").textContent = a.user;
  $("acc-up").textContent = limit(a.limits.up);
  $("acc-down").textContent = limit(a.limits.down);
  const used = a.usage.up + a.usage.down;
  const quota = a.limits.quota;
  $("acc-quota").textContent = quota > 0
    ? bytes(used) + " of " + bytes(quota) + " used (" +
      Math.min(100, used / quota * 100).toFixed(1) + " %)"
    : bytes(used) + " used, no quota";
  const pct = quota > 0 ? Math.min(100, used / quota * 100) : 0;
  $("acc-quota-bar").style.width = pct + "%";
  $("acc-quota-bar").className = pct > 90 ? "high" : "";
  $("acc-expires").textContent = a.expiresAt ? new Date(a.expiresAt).toLocaleString() : "never";
  $("acc-conns").textContent = a.openConnections + " open" +
    (a.limits.maxConns > 0 ? " of at most " + a.limits.maxConns : "");
}

function renderChart(history) {
  const all = history.up.concat(history.down);
  const max = Math.max(...all, 1);
  const points = (series) => {
    const n = series.length;
    return series.map((v, i) => {
      const x = n > 1 ? (i / (n - 1)) * 600 : 600;
      const y = 118 - (v / max) * 112;
      return x.toFixed(1) + "," + y.toFixed(1);
    }).join(" ");
  };
  $("line-up").setAttribute("points", points(history.up));
  $("line-down").setAttribute("points", points(history.down));
  $("chart-max").textContent = "peak " + rate(max === 1 && Math.max(...all) === 0 ? 0 : max);
}

function renderConnections(rows, open) {
  $("conn-count").textContent = String(open);
  $("conn-note").textContent = open > rows.length
    ? "showing the " + rows.length + " most active"
    : "";
  let html = "";
  for (const c of rows) {
    html += '<tr data-id="' + c.id + '"><td>' + escapeHtml(c.client) + "</td><td>" + c.protocol +
      '</td><td title="' + escapeHtml(c.destination) + '">' + escapeHtml(c.destination || "…") +
      '</td><td class="num">' + bytes(c.up) + '</td><td class="num">' + bytes(c.down) +
      '</td><td class="num">' + age(c.age) + "</td></tr>";
  }
  $("connections").innerHTML = html;
}

function render(s) {
  last = s;
  const state = busy ? "connecting" : s.state;
  $("state").textContent = state === "listening" ? "listening on " + s.listen : state;
  $("state").className = "badge " + state;
  $("pid").textContent = String(s.pid);
  $("version").textContent = s.version;
  $("proxy-address").textContent = s.listen;
  $("connect").disabled = busy || s.state === "connecting";
  $("disconnect").disabled = s.state !== "listening";
  if (!busy) showProblem(s.problem);
  renderAccount(s.state === "listening" ? s.account : null);
  $("rate-up").textContent = rate(s.rate.up);
  $("rate-down").textContent = rate(s.rate.down);
  $("total-up").textContent = bytes(s.totals.up);
  $("total-down").textContent = bytes(s.totals.down);
  renderChart(s.history);
  renderConnections(s.connections, s.open);
  document.body.dataset.state = s.state;
  document.body.dataset.updates = String((Number(document.body.dataset.updates) || 0) + 1);
}

function openSocket() {
  const scheme = location.protocol === "https:" ? "wss://" : "ws://";
  const ws = new WebSocket(scheme + location.host + "/ws");
  ws.onopen = () => $("link").hidden = true;
  ws.onmessage = (event) => {
    const started = performance.now();
    render(JSON.parse(event.data));
    globalThis.__renderMs = performance.now() - started;
  };
  ws.onclose = () => {
    $("link").hidden = false;
    setTimeout(openSocket, 1000);
  };
}
openSocket();
