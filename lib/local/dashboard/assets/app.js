/**
 * The dashboard page's script: loads the settings, sends Connect/Disconnect, and renders the
 * status the WebSocket pushes every second. A module; byte sizes come from the one formatter
 * the programs use (lib/common/ops/format_bytes.js, through lib/common/web/i18n.js, both served
 * next to this file) in the page's language, as are its words, the chart from uPlot
 * (served as /uPlot.iife.min.js, a global loaded before this module). The server renders the
 * first state into the page; this keeps it current.
 */
import { date, number, size, t } from "./i18n.js";

const $ = (id) => document.getElementById(id);
const FIELDS = ["listen", "remote", "ca", "serverName", "pin", "user", "password"];
let busy = false;
let last = null;
/** The form differs from the settings of the running session (the user typed something). */
let edited = false;
const percent = new Intl.NumberFormat(document.documentElement.lang, {
  style: "percent",
  minimumFractionDigits: 1,
  maximumFractionDigits: 1,
});

// "steady": three significant figures, so numbers that change every second keep their width.
const bytes = (n) => size(n, "0 B", "steady");
const rate = (n) => bytes(n) + "/s";
const limit = (n) => n > 0 ? rate(n) : t("dashboard.unlimited");

function age(s) {
  if (s < 60) return t("dashboard.seconds", { s });
  if (s < 3600) return t("dashboard.minutes", { m: Math.floor(s / 60), s: s % 60 });
  return t("dashboard.hours", { h: Math.floor(s / 3600), m: Math.floor((s % 3600) / 60) });
}

// A UDP association also shows how many datagrams went each way.
const datagrams = (c, way) =>
  c.datagrams ? " " + t("dashboard.datagrams", { n: number(c.datagrams[way]) }) : "";

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
  if (last) render(last);
  else $("connect").disabled = value;
}

/**
 * One primary action for the state: Connect while stopped; while connected, Disconnect, and
 * Connect becomes "Apply changes" (reconnect with the form), usable once the form is edited.
 */
function renderButtons(s) {
  const listening = s.state === "listening";
  const connect = $("connect");
  const disconnect = $("disconnect");
  connect.textContent = t(
    busy ? "dashboard.checking" : listening ? "dashboard.apply" : "dashboard.connect",
  );
  connect.className = listening ? "secondary" : "primary";
  connect.disabled = busy || s.state === "connecting" || (listening && !edited);
  connect.title = listening && !edited ? t("dashboard.applyHint") : "";
  disconnect.hidden = !listening;
  disconnect.className = listening ? "primary" : "secondary";
  disconnect.disabled = !listening;
}

/**
 * The one state shown, in words: its badge and its line (as the server words the first one,
 * `stateWords` in server.ts).
 */
function stateWords(s, shown) {
  const params = { listen: s.listen, remote: s.remote, user: s.user };
  const badge = t("dashboard.state." + shown, params);
  const line = shown === "online"
    ? t("dashboard.session.online", params)
    : shown === "unreachable" || shown === "refused"
    ? t("dashboard.session.down", { ...params, why: s.why || "" })
    : "";
  return { badge, line };
}

$("form").addEventListener("input", () => {
  edited = true;
  if (last) renderButtons(last);
});

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
    $("password").placeholder = t("dashboard.passwordKnown");
    edited = false;
    render(r.body);
  }).catch((e) => {
    setBusy(false);
    showProblem({ kind: "dashboard", message: t("dashboard.noAnswer", { error: e.message }) });
  });
});

// A pasted link is read by the dashboard (the same parser as --link) and fills the form; the
// pin it carries is checked against the remote's certificate at Connect.
$("use-link").addEventListener("click", () => {
  const link = $("link").value.trim();
  if (!link) return;
  showProblem(null);
  $("link-note").hidden = true;
  post("/api/link", { link }).then((r) => {
    if (!r.ok) {
      showProblem(r.body.problem);
      return;
    }
    for (const f of ["remote", "serverName", "pin", "user", "password"]) $(f).value = r.body[f];
    $("ca").value = "";
    $("link").value = "";
    const sub = r.body.subscription;
    $("link-note").hidden = !sub;
    if (sub) $("link-note").textContent = t("dashboard.subscriptionTaken", { rules: sub.rules });
    edited = true;
    if (last) renderButtons(last);
  });
});

$("disconnect").addEventListener("click", () => {
  post("/api/disconnect").then((r) => {
    if (r.ok) render(r.body);
  });
});

// The saved settings fill only what is still as the page came: a field typed into (or filled
// from a pasted link) before they arrive keeps what the user put there.
fetch("/api/settings").then((r) => r.json()).then((s) => {
  for (const f of FIELDS) {
    const field = $(f);
    if (f !== "password" && field.value === field.defaultValue) field.value = s[f] || "";
  }
  const remember = $("remember");
  if (remember.checked === remember.defaultChecked) remember.checked = !!s.remember;
  if (s.passwordKnown) $("password").placeholder = t("dashboard.passwordKnown");
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
    ? t("dashboard.quotaUsed", {
      used: bytes(used),
      quota: bytes(quota),
      percent: percent.format(Math.min(1, used / quota)),
    })
    : t("dashboard.noQuota", { used: bytes(used) });
  const pct = quota > 0 ? Math.min(100, used / quota * 100) : 0;
  $("acc-quota-bar").parentElement.hidden = !(quota > 0);
  $("acc-quota-bar").style.width = pct + "%";
  $("acc-quota-bar").className = pct > 90 ? "high" : "";
  $("acc-expires").textContent = a.expiresAt ? date(a.expiresAt) : t("dashboard.never");
  $("acc-conns").textContent = a.limits.maxConns > 0
    ? t("dashboard.openOfMax", { open: number(a.openConnections), max: number(a.limits.maxConns) })
    : t("dashboard.openCount", { open: number(a.openConnections) });
}

// Steps of the rate axis in each binary unit, so labels read "200 KiB/s", "512 KiB/s",
// "1 MiB/s", "5 MiB/s".
const RATE_STEPS = [0, 1, 2, 3, 4, 5].flatMap((p) =>
  [1, 2, 5, 10, 20, 50, 100, 200, 512].map((m) => m * 1024 ** p)
);
const axisRate = (n) => n === 0 ? "0" : size(n, "0", "short") + "/s";
/**
 * The top of the rate axis: a step just above the highest value the chart shows (at least
 * 1 KiB/s, so an idle chart does not count single bytes).
 */
const rateTop = (max) =>
  RATE_STEPS.find((step) => step >= Math.max(max * 1.05, 1024)) ?? max * 1.05;

let chart = null;

function makeChart(points) {
  const css = getComputedStyle(document.documentElement);
  const color = (name) => css.getPropertyValue(name).trim();
  const axis = {
    stroke: color("--muted"),
    grid: { stroke: color("--line"), width: 1 },
    ticks: { show: false },
    font: "11px system-ui, sans-serif",
  };
  const element = $("chart");
  return new globalThis.uPlot(
    {
      width: element.clientWidth,
      height: 170,
      legend: { show: false },
      cursor: { drag: { x: false, y: false }, points: { show: false } },
      scales: {
        x: { time: false, range: [-(points - 1), 0] },
        y: { range: (_u, _min, max) => [0, rateTop(max)] },
      },
      axes: [
        {
          ...axis,
          incrs: [5, 10, 15, 20, 30, 60],
          space: 80,
          size: 26,
          values: (_u, splits) =>
            splits.map((v) => v === 0 ? t("dashboard.now") : t("dashboard.secondsAgo", { s: -v })),
        },
        {
          ...axis,
          incrs: RATE_STEPS,
          space: 32,
          size: 72,
          values: (_u, splits) => splits.map(axisRate),
        },
      ],
      series: [
        {},
        { label: t("dashboard.upload"), stroke: color("--up"), width: 2, points: { show: false } },
        {
          label: t("dashboard.download"),
          stroke: color("--down"),
          width: 2,
          fill: "rgba(25, 113, 194, 0.08)",
          points: { show: false },
        },
      ],
    },
    [[], [], []],
    element,
  );
}

function renderChart(history) {
  const n = history.down.length;
  if (!chart) {
    chart = makeChart(n);
    globalThis.__chart = chart;
    new ResizeObserver(() => chart.setSize({ width: $("chart").clientWidth, height: 170 }))
      .observe($("chart"));
  }
  const xs = history.down.map((_v, i) => i - (n - 1));
  // Scaled to what it shows: uPlot takes the range from these 60 values on every update.
  chart.setData([xs, history.up, history.down]);
}

function renderConnections(rows, open) {
  $("conn-count").textContent = String(open);
  $("conn-note").textContent = open > rows.length
    ? t("dashboard.showing", { n: number(rows.length) })
    : "";
  let html = rows.length === 0
    ? '<tr class="empty"><td colspan="6">' + escapeHtml(t("dashboard.none")) + "</td></tr>"
    : "";
  for (const c of rows) {
    // A connection the remote refused stays listed a while, closed, with why.
    const failure = c.failure ? '<small class="failure">' + escapeHtml(c.failure) + "</small>" : "";
    // With --mux: the tunnel it shares with the other connections tagged the same.
    const tunnel = c.tunnel
      ? ' <small class="tunnel" title="' + escapeHtml(t("dashboard.muxTunnel", { n: c.tunnel })) +
        '">#' + c.tunnel + "</small>"
      : "";
    // Where the rules sent it, and the rule that said so (only with rules in force).
    const route = c.route
      ? '<small class="route ' + c.route + '">' + escapeHtml(t("dashboard.route." + c.route)) +
        " · " + escapeHtml(c.rule || "") + "</small>"
      : "";
    const closed = c.failure || c.route === "rejected";
    html += '<tr data-id="' + c.id + '"' + (closed ? ' class="failed"' : "") +
      '><td class="client">' + escapeHtml(c.client) +
      '</td><td class="type">' + c.protocol + tunnel + '</td><td class="dest" title="' +
      escapeHtml(c.destination) + '">' + escapeHtml(c.destination || "…") + failure + route +
      '</td><td class="num" data-label="↑">' + bytes(c.up) + datagrams(c, "up") +
      '</td><td class="num" data-label="↓">' + bytes(c.down) + datagrams(c, "down") +
      '</td><td class="num">' + age(c.age) + "</td></tr>";
  }
  $("connections").innerHTML = html;
}

/** Folds the settings away when the proxy starts listening, and opens them when it stops. */
function foldSettings(state) {
  if (state === shownFor) return;
  if (state === "listening") $("settings").open = false;
  if (state === "stopped") $("settings").open = true;
  shownFor = state;
}
// The state the server rendered the page in (its settings open or folded to match).
let shownFor = document.body.dataset.state;

/**
 * With rules in force, each total split: through the server (what the quota pays for) and
 * direct, each with its rate.
 */
function renderSplit(s) {
  for (const el of document.querySelectorAll(".rate .split")) el.hidden = !s.direct;
  if (!s.direct) return;
  for (const way of ["up", "down"]) {
    const direct = s.direct.totals[way];
    const directRate = s.direct.rate[way];
    $("server-" + way).textContent = bytes(s.totals[way] - direct) + " (" +
      rate(Math.max(0, s.rate[way] - directRate)) + ")";
    $("direct-" + way).textContent = bytes(direct) + " (" + rate(directRate) + ")";
  }
}

function render(s) {
  last = s;
  const shown = busy ? "connecting" : s.shown;
  const words = stateWords(s, shown);
  $("state").textContent = words.badge;
  $("state").className = "badge " + shown;
  $("session").textContent = words.line;
  $("session").className = "session " + shown;
  $("session").hidden = !words.line;
  $("pid").textContent = String(s.pid);
  $("version").textContent = s.version;
  $("proxy-address").textContent = s.listen;
  renderButtons(s);
  foldSettings(s.state);
  // Why the remote lets nothing through is the state's own line, not a second message.
  if (!busy) showProblem(s.problem && s.problem.message !== s.why ? s.problem : null);
  // A problem while listening is about a change that did not apply: the session goes on.
  $("problem").classList.toggle("running", s.state === "listening");
  $("warning").hidden = !s.warning;
  $("warning").textContent = s.warning || "";
  renderAccount(s.state === "listening" ? s.account : null);
  $("rate-up").textContent = rate(s.rate.up);
  $("rate-down").textContent = rate(s.rate.down);
  $("total-up").textContent = bytes(s.totals.up);
  $("total-down").textContent = bytes(s.totals.down);
  renderSplit(s);
  renderChart(s.history);
  renderConnections(s.connections, s.open);
  document.body.dataset.state = s.state;
  document.body.dataset.shown = shown;
  document.body.dataset.updates = String((Number(document.body.dataset.updates) || 0) + 1);
}

function openSocket() {
  const scheme = location.protocol === "https:" ? "wss://" : "ws://";
  const ws = new WebSocket(scheme + location.host + "/ws");
  ws.onopen = () => $("link-down").hidden = true;
  ws.onmessage = (event) => {
    const started = performance.now();
    render(JSON.parse(event.data));
    globalThis.__renderMs = performance.now() - started;
  };
  ws.onclose = () => {
    $("link-down").hidden = false;
    setTimeout(openSocket, 1000);
  };
}
openSocket();
