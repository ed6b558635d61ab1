/** The dashboard page's style sheet, built into the program. */
export const PAGE_CSS = `
:root { --bg: #f4f6f8; --card: #fff; --text: #1d2733; --muted: #6b7785; --line: #dde3e9;
  --up: #d9480f; --down: #1971c2; --ok: #2b8a3e; --bad: #c92a2a; --warn: #e67700; }
* { box-sizing: border-box; }
[hidden] { display: none !important; }
body { margin: 0; font: 14px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif;
  background: var(--bg); color: var(--text); }
header { display: flex; align-items: center; gap: 14px; padding: 12px 20px; background: #1d2733; color: #fff; }
header h1 { font-size: 18px; margin: 0; letter-spacing: .3px; }
header .meta { color: #b8c2cc; font-size: 13px; }
header .meta b { color: #fff; font-weight: 600; }
.link-down { color: #ffc078 !important; }
.badge { padding: 2px 10px; border-radius: 999px; font-size: 12px; font-weight: 600; text-transform: uppercase; }
.badge.stopped { background: #495057; }
.badge.connecting { background: var(--warn); }
.badge.listening { background: var(--ok); }
.problem { margin: 14px 20px 0; padding: 10px 14px; border-radius: 6px; background: #fff5f5;
  border: 1px solid #ffc9c9; color: var(--bad); font-weight: 500; }
main { display: grid; grid-template-columns: minmax(320px, 1fr) minmax(280px, 1fr); gap: 14px; padding: 14px 20px 20px; }
.card { background: var(--card); border: 1px solid var(--line); border-radius: 8px; padding: 14px 16px; min-width: 0; }
.card.wide { grid-column: 1 / -1; }
.card h2 { margin: 0 0 10px; font-size: 15px; }
form label { display: grid; grid-template-columns: 120px 1fr; align-items: center; gap: 8px; margin-bottom: 7px; color: var(--muted); }
form label.check { display: flex; color: var(--text); }
input:not([type=checkbox]) { width: 100%; padding: 6px 8px; border: 1px solid #c5ced6; border-radius: 5px; font: inherit; color: var(--text); }
input:focus { outline: 2px solid #a5d8ff; border-color: #4dabf7; }
.buttons { display: flex; gap: 8px; margin-top: 10px; }
button { padding: 7px 18px; border: 0; border-radius: 5px; font: inherit; font-weight: 600; cursor: pointer; }
#connect { background: var(--down); color: #fff; }
#disconnect { background: #e9ecef; color: var(--text); }
button:disabled { opacity: .5; cursor: default; }
.hint { margin: 12px 0 0; color: var(--muted); font-size: 13px; }
.muted { color: var(--muted); font-weight: normal; }
dl { display: grid; grid-template-columns: 120px 1fr; gap: 6px 10px; margin: 0; }
dt { color: var(--muted); }
dd { margin: 0; font-weight: 500; }
.bar { height: 6px; background: #e9ecef; border-radius: 3px; margin-top: 4px; overflow: hidden; }
.bar div { height: 100%; width: 0; background: var(--ok); }
.bar div.high { background: var(--bad); }
.rates { display: flex; gap: 40px; margin-bottom: 8px; }
.rates b { font-size: 20px; margin: 0 8px; font-variant-numeric: tabular-nums; }
.rates small { color: var(--muted); }
.dot { display: inline-block; width: 10px; height: 10px; border-radius: 50%; margin-right: 6px; }
.dot.up { background: var(--up); } .dot.down { background: var(--down); }
#chart { width: 100%; height: 120px; display: block; background: #fbfcfd; border: 1px solid var(--line); border-radius: 4px; }
#chart polyline { fill: none; stroke-width: 2; vector-effect: non-scaling-stroke; stroke-linejoin: round; }
#chart polyline.up { stroke: var(--up); } #chart polyline.down { stroke: var(--down); }
#chart .axis { stroke: var(--line); }
.chart-legend { display: flex; justify-content: space-between; color: var(--muted); font-size: 12px; }
.count { display: inline-block; min-width: 24px; padding: 0 8px; border-radius: 999px; background: #e7f5ff; color: var(--down); text-align: center; }
.table-wrap { max-height: 420px; overflow: auto; }
table { width: 100%; border-collapse: collapse; font-variant-numeric: tabular-nums; }
th, td { text-align: left; padding: 5px 8px; border-bottom: 1px solid #eef1f4; white-space: nowrap; }
td { overflow: hidden; text-overflow: ellipsis; max-width: 360px; }
th { position: sticky; top: 0; background: #fff; color: var(--muted); font-weight: 600; font-size: 12px; }
.num { text-align: right; }
@media (max-width: 760px) { main { grid-template-columns: 1fr; } }
`;
