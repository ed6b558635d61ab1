/**
 * The dashboard page's script, built into the program: loads the settings, sends
 * Connect/Disconnect, and renders the status the WebSocket pushes every second.
 */
export const PAGE_JS = String.raw`"use strict";
(function () {
  var $ = function (id) { return document.getElementById(id); };
  var FIELDS = ["listen", "remote", "ca", "serverName", "user", "password"];
  var busy = false;
  var last = null;

  function bytes(n) {
    var units = ["B", "KiB", "MiB", "GiB", "TiB"];
    var i = 0;
    while (n >= 1024 && i < units.length - 1) { n /= 1024; i++; }
    return (i === 0 ? String(Math.round(n)) : n.toFixed(n < 10 ? 2 : n < 100 ? 1 : 0)) + " " + units[i];
  }
  function rate(n) { return bytes(n) + "/s"; }
  function limit(n) { return n > 0 ? rate(n) : "unlimited"; }
  function age(s) {
    if (s < 60) return s + " s";
    if (s < 3600) return Math.floor(s / 60) + " min " + (s % 60) + " s";
    return Math.floor(s / 3600) + " h " + Math.floor((s % 3600) / 60) + " min";
  }
  function escapeHtml(text) {
    return String(text).replace(/[&<>"']/g, function (c) {
      return { "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" }[c];
    });
  }

  function showProblem(problem) {
    var box = $("problem");
    box.hidden = !problem;
    box.textContent = problem ? problem.message : "";
    box.dataset.kind = problem ? problem.kind : "";
  }

  function settingsFromForm() {
    var s = {};
    FIELDS.forEach(function (f) { s[f] = $(f).value.trim(); });
    s.password = $("password").value;
    s.remember = $("remember").checked;
    return s;
  }

  function post(path, body) {
    return fetch(path, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify(body || {}),
    }).then(function (r) { return r.json().then(function (j) { return { ok: r.ok, body: j }; }); });
  }

  function setBusy(value) {
    busy = value;
    $("connect").textContent = value ? "Checking login…" : "Connect";
    if (last) render(last); else $("connect").disabled = value;
  }

  $("form").addEventListener("submit", function (event) {
    event.preventDefault();
    if (busy) return;
    setBusy(true);
    showProblem(null);
    post("/api/connect", settingsFromForm()).then(function (r) {
      setBusy(false);
      if (!r.ok) { showProblem(r.body.problem); return; }
      $("password").value = "";
      $("password").placeholder = "known — leave empty to keep it";
      render(r.body);
    }).catch(function (e) {
      setBusy(false);
      showProblem({ kind: "dashboard", message: "The dashboard did not answer: " + e.message });
    });
  });

  $("disconnect").addEventListener("click", function () {
    post("/api/disconnect").then(function (r) { if (r.ok) render(r.body); });
  });

  fetch("/api/settings").then(function (r) { return r.json(); }).then(function (s) {
    FIELDS.forEach(function (f) { if (f !== "password") $(f).value = s[f] || ""; });
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
    var used = a.usage.up + a.usage.down;
    var quota = a.limits.quota;
    $("acc-quota").textContent = quota > 0
      ? bytes(used) + " of " + bytes(quota) + " used (" + Math.min(100, used / quota * 100).toFixed(1) + " %)"
      : bytes(used) + " used, no quota";
    var pct = quota > 0 ? Math.min(100, used / quota * 100) : 0;
    $("acc-quota-bar").style.width = pct + "%";
    $("acc-quota-bar").className = pct > 90 ? "high" : "";
    $("acc-expires").textContent = a.expiresAt ? new Date(a.expiresAt).toLocaleString() : "never";
    $("acc-conns").textContent = a.openConnections + " open" +
      (a.limits.maxConns > 0 ? " of at most " + a.limits.maxConns : "");
  }

  function renderChart(history) {
    var all = history.up.concat(history.down);
    var max = Math.max.apply(null, all.concat([1]));
    function points(series) {
      var n = series.length;
      return series.map(function (v, i) {
        var x = n > 1 ? (i / (n - 1)) * 600 : 600;
        var y = 118 - (v / max) * 112;
        return x.toFixed(1) + "," + y.toFixed(1);
      }).join(" ");
    }
    $("line-up").setAttribute("points", points(history.up));
    $("line-down").setAttribute("points", points(history.down));
    $("chart-max").textContent = "peak " + rate(max === 1 && Math.max.apply(null, all) === 0 ? 0 : max);
  }

  function renderConnections(rows, open) {
    $("conn-count").textContent = String(open);
    $("conn-note").textContent = open > rows.length ? "showing the " + rows.length + " most active" : "";
    var html = "";
    for (var i = 0; i < rows.length; i++) {
      var c = rows[i];
      html += "<tr data-id=\"" + c.id + "\"><td>" + escapeHtml(c.client) + "</td><td>" + c.protocol +
        "</td><td title=\"" + escapeHtml(c.destination) + "\">" + escapeHtml(c.destination || "…") +
        "</td><td class=\"num\">" + bytes(c.up) + "</td><td class=\"num\">" + bytes(c.down) +
        "</td><td class=\"num\">" + age(c.age) + "</td></tr>";
    }
    $("connections").innerHTML = html;
  }

  function render(s) {
    last = s;
    var state = busy ? "connecting" : s.state;
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
    var ws = new WebSocket((location.protocol === "https:" ? "wss://" : "ws://") + location.host + "/ws");
    ws.onopen = function () { $("link").hidden = true; };
    ws.onmessage = function (event) {
      var started = performance.now();
      render(JSON.parse(event.data));
      window.__renderMs = performance.now() - started;
    };
    ws.onclose = function () { $("link").hidden = false; setTimeout(openSocket, 1000); };
  }
  openSocket();
})();
`;
