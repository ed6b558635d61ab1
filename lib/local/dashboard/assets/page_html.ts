/** The dashboard page's HTML, built into the program (no file reads at run time). */
export const PAGE_HTML = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>SwiftProxy</title>
<link rel="stylesheet" href="/app.css">
<script src="/app.js" defer></script>
</head>
<body>
<header>
  <h1>SwiftProxy</h1>
  <span id="state" class="badge stopped">stopped</span>
  <span class="meta">process <b id="pid">–</b> · version <span id="version">–</span></span>
  <span id="link" class="meta link-down" hidden>dashboard connection lost, retrying…</span>
</header>
<div id="problem" class="problem" role="alert" hidden></div>
<main>
  <section class="card" id="settings-card">
    <h2>Connection</h2>
    <form id="form" autocomplete="off">
      <label>Listen address <input id="listen" name="listen" placeholder="127.0.0.1:1080" required></label>
      <label>Remote <input id="remote" name="remote" placeholder="vpn.example.org:8443" required></label>
      <label>CA file <input id="ca" name="ca" placeholder="/path/to/cert.pem (for a self-signed remote)"></label>
      <label>Server name <input id="serverName" name="serverName" placeholder="name on the certificate (optional)"></label>
      <label>Name <input id="user" name="user" autocomplete="username" required></label>
      <label>Password <input id="password" name="password" type="password" autocomplete="current-password"></label>
      <label class="check"><input id="remember" name="remember" type="checkbox"> Remember the password on this computer</label>
      <div class="buttons">
        <button id="connect" type="submit">Connect</button>
        <button id="disconnect" type="button" disabled>Disconnect</button>
      </div>
    </form>
    <p class="hint">Browser set-up: <a href="/proxy.pac" id="pac">proxy.pac</a> · proxy <code id="proxy-address">–</code> (SOCKS5 and HTTP)</p>
  </section>
  <section class="card" id="account-card">
    <h2>Account</h2>
    <p id="account-empty" class="muted">Connect to see your account.</p>
    <dl id="account" hidden>
      <dt>Name</dt><dd id="acc-user"></dd>
      <dt>Upload limit</dt><dd id="acc-up"></dd>
      <dt>Download limit</dt><dd id="acc-down"></dd>
      <dt>Quota</dt><dd><span id="acc-quota"></span><div class="bar"><div id="acc-quota-bar"></div></div></dd>
      <dt>Expires</dt><dd id="acc-expires"></dd>
      <dt>Connections</dt><dd id="acc-conns"></dd>
    </dl>
  </section>
  <section class="card wide" id="traffic-card">
    <h2>Traffic</h2>
    <div class="rates">
      <div><span class="dot up"></span>Upload <b id="rate-up">0 B/s</b><small>total <span id="total-up">0 B</span></small></div>
      <div><span class="dot down"></span>Download <b id="rate-down">0 B/s</b><small>total <span id="total-down">0 B</span></small></div>
    </div>
    <svg id="chart" viewBox="0 0 600 120" preserveAspectRatio="none" aria-label="rate over the last 60 seconds">
      <line x1="0" y1="119.5" x2="600" y2="119.5" class="axis"></line>
      <polyline id="line-down" class="down" points=""></polyline>
      <polyline id="line-up" class="up" points=""></polyline>
    </svg>
    <div class="chart-legend"><span>60 s ago</span><span id="chart-max"></span><span>now</span></div>
  </section>
  <section class="card wide" id="connections-card">
    <h2>Open connections <span id="conn-count" class="count">0</span> <small id="conn-note" class="muted"></small></h2>
    <div class="table-wrap">
      <table>
        <thead><tr><th>Client</th><th>Type</th><th>Destination</th><th class="num">Up</th><th class="num">Down</th><th class="num">Age</th></tr></thead>
        <tbody id="connections"></tbody>
      </table>
    </div>
  </section>
</main>
</body>
</html>
`;
