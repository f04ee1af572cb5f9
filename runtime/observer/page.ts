/**
 * The observer's page: one self-contained HTML document (no scripts from elsewhere) that
 * polls the JSON API every second: message and spawn rates as charts, the link and monitor
 * graph, the process table; a click shows a process in detail, with a kill button.
 */
export const OBSERVER_PAGE = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>lunatic observer</title>
<meta name="viewport" content="width=device-width, initial-scale=1">
<style>
  :root { font: 14px/1.4 system-ui, sans-serif; color: #1d2330; background: #f5f6f8; }
  body { margin: 0; }
  header { background: #1d2330; color: #fff; padding: 10px 18px; display: flex; gap: 24px; align-items: baseline; }
  header h1 { font-size: 17px; margin: 0; }
  header .stat { opacity: .85; }
  main { display: grid; grid-template-columns: 1fr 1fr; gap: 14px; padding: 14px 18px; }
  section { background: #fff; border-radius: 6px; box-shadow: 0 1px 2px #0002; padding: 10px 12px; min-width: 0; }
  section h2 { font-size: 13px; text-transform: uppercase; letter-spacing: .05em; color: #5b6477; margin: 0 0 6px; }
  .wide { grid-column: 1 / -1; }
  svg.chart { width: 100%; height: 90px; background: #fafbfc; }
  svg.chart polyline { fill: none; stroke-width: 2; }
  #graph { width: 100%; height: 330px; background: #fafbfc; }
  #graph line.link { stroke: #4a78c2; stroke-opacity: .35; }
  #graph line.monitor { stroke: #c2694a; stroke-dasharray: 3 3; stroke-opacity: .6; }
  #graph circle { fill: #1d2330; }
  #graph circle.selected { fill: #d9480f; }
  .table { max-height: 420px; overflow: auto; }
  table { border-collapse: collapse; width: 100%; font-variant-numeric: tabular-nums; }
  th, td { text-align: right; padding: 3px 8px; border-bottom: 1px solid #eef0f3; white-space: nowrap; }
  th:nth-child(3), td:nth-child(3), th:nth-child(4), td:nth-child(4) { text-align: left; }
  th { position: sticky; top: 0; background: #fff; color: #5b6477; font-weight: 600; }
  tbody tr { cursor: pointer; }
  tbody tr:hover { background: #f0f4fb; }
  tbody tr.selected { background: #ffe8d9; }
  #details pre { margin: 0; font-size: 12px; max-height: 330px; overflow: auto; }
  #kill { margin-top: 8px; background: #c92a2a; color: #fff; border: 0; border-radius: 4px; padding: 6px 14px; cursor: pointer; }
  #kill:disabled { background: #aaa; cursor: default; }
  .muted { color: #8a93a6; }
</style>
</head>
<body>
<header>
  <h1>lunatic observer</h1>
  <span class="stat" id="count">… processes</span>
  <span class="stat" id="environments"></span>
  <span class="stat" id="rate-now"></span>
</header>
<main>
  <section><h2>Messages per second</h2><svg class="chart" id="messages-chart" viewBox="0 0 120 40" preserveAspectRatio="none"><polyline stroke="#4a78c2" points=""/></svg><div class="muted" id="messages-last"></div></section>
  <section><h2>Spawns per second</h2><svg class="chart" id="spawns-chart" viewBox="0 0 120 40" preserveAspectRatio="none"><polyline stroke="#2b8a3e" points=""/></svg><div class="muted" id="spawns-last"></div></section>
  <section><h2>Links and monitors</h2><svg id="graph" viewBox="-200 -170 400 340"></svg><div class="muted" id="graph-summary"></div></section>
  <section id="details"><h2>Process</h2><div class="muted" id="details-empty">Click a process in the table.</div><pre id="details-body"></pre><button id="kill" hidden>Kill</button></section>
  <section class="wide"><h2>Processes</h2><div class="table"><table>
    <thead><tr><th>env</th><th>id</th><th>module</th><th>version</th><th>state</th><th>mailbox</th><th>memory</th><th>fuel</th><th>uptime</th><th>links</th><th>monitors</th></tr></thead>
    <tbody id="processes"></tbody></table></div></section>
</main>
<script>
const token = new URLSearchParams(location.search).get("token");
let selected = null;
const $ = (id) => document.getElementById(id);
const fmtBytes = (n) => n >= 1 << 20 ? (n / (1 << 20)).toFixed(1) + " MiB" : n >= 1024 ? (n / 1024).toFixed(0) + " KiB" : n + " B";
const fmtTime = (ms) => ms >= 3600000 ? (ms / 3600000).toFixed(1) + " h" : ms >= 60000 ? (ms / 60000).toFixed(1) + " min" : (ms / 1000).toFixed(1) + " s";
const esc = (s) => String(s).replace(/[&<>"]/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;" })[c]);

function chart(id, values, lastId, unit) {
  const max = Math.max(1, ...values);
  const points = values.map((v, i) => (i * 120 / Math.max(1, values.length - 1)).toFixed(1) + "," + (38 - v * 36 / max).toFixed(1));
  $(id).querySelector("polyline").setAttribute("points", points.join(" "));
  $(lastId).textContent = values.length ? "now " + values[values.length - 1].toLocaleString() + " " + unit + "/s, peak " + max.toLocaleString() : "sampling…";
}

function drawGraph(data) {
  const byEnv = new Map();
  for (const node of data.nodes) {
    if (!byEnv.has(node.environment)) byEnv.set(node.environment, []);
    byEnv.get(node.environment).push(node);
  }
  const pos = new Map();
  const envs = [...byEnv.keys()];
  envs.forEach((env, e) => {
    const nodes = byEnv.get(env);
    const cx = envs.length === 1 ? 0 : -120 + 240 * e / (envs.length - 1);
    const r = envs.length === 1 ? 150 : 150 / envs.length + 20;
    nodes.forEach((n, i) => {
      // The first process of an environment (its root) in the middle, the others around it.
      if (i === 0) pos.set(n.key, [cx, 0]);
      else { const a = 2 * Math.PI * (i - 1) / (nodes.length - 1); pos.set(n.key, [cx + r * Math.cos(a), r * Math.sin(a)]); }
    });
  });
  const dot = data.nodes.length > 300 ? 1.6 : 3.5;
  let svg = "";
  for (const edge of data.edges) {
    const a = pos.get(edge.from), b = pos.get(edge.to);
    if (a && b) svg += '<line class="' + edge.kind + '" x1="' + a[0].toFixed(1) + '" y1="' + a[1].toFixed(1) + '" x2="' + b[0].toFixed(1) + '" y2="' + b[1].toFixed(1) + '"/>';
  }
  for (const node of data.nodes) {
    const [x, y] = pos.get(node.key);
    svg += '<circle data-key="' + node.key + '" r="' + dot + '" cx="' + x.toFixed(1) + '" cy="' + y.toFixed(1) + '"' + (node.key === selected ? ' class="selected"' : "") + '><title>process ' + node.id + ' (environment ' + node.environment + ')</title></circle>';
  }
  $("graph").innerHTML = svg;
  const links = data.edges.filter((e) => e.kind === "link").length;
  $("graph-summary").textContent = data.nodes.length + " processes, " + links + " links, " + (data.edges.length - links) + " monitors";
}

function drawTable(data) {
  $("count").textContent = data.count.toLocaleString() + " processes";
  $("environments").textContent = new Set(data.processes.map((p) => p.environment)).size + " environments";
  $("processes").innerHTML = data.processes.map((p) => {
    const key = p.environment + "/" + p.id;
    return '<tr data-key="' + key + '"' + (key === selected ? ' class="selected"' : "") + "><td>" + p.environment + "</td><td>" + p.id + "</td><td>" + esc(p.module) + "</td><td>" + (p.version === null ? "" : "v" + p.version) + "</td><td>" + p.state + "</td><td>" + p.mailbox + "</td><td>" + fmtBytes(p.memory) + "</td><td>" + p.fuel.toLocaleString() + "</td><td>" + fmtTime(p.uptimeMs) + "</td><td>" + p.links + "</td><td>" + p.monitors + "</td></tr>";
  }).join("");
}

async function showDetails() {
  if (selected === null) return;
  const response = await fetch("/api/process/" + selected);
  if (!response.ok) {
    $("details-body").textContent = "process " + selected + " has ended";
    $("kill").hidden = true;
    return;
  }
  const details = await response.json();
  $("details-empty").hidden = true;
  $("details-body").textContent = JSON.stringify(details, null, 2);
  $("kill").hidden = false;
  $("kill").disabled = false;
}

async function refresh() {
  try {
    const [processes, graphData, rates] = await Promise.all(["/api/processes", "/api/graph", "/api/rates"].map((u) => fetch(u).then((r) => r.json())));
    drawTable(processes);
    drawGraph(graphData);
    chart("messages-chart", rates.messages, "messages-last", "messages");
    chart("spawns-chart", rates.spawns, "spawns-last", "spawns");
    $("rate-now").textContent = rates.messages.length ? rates.messages[rates.messages.length - 1].toLocaleString() + " messages/s" : "";
    await showDetails();
    document.body.dataset.refreshed = String(Number(document.body.dataset.refreshed || 0) + 1);
  } catch (error) {
    $("count").textContent = "runtime unreachable (" + error.message + ")";
  }
}

function select(key) {
  selected = key;
  showDetails();
  for (const row of document.querySelectorAll("#processes tr")) row.classList.toggle("selected", row.dataset.key === key);
}
$("processes").addEventListener("click", (event) => { const row = event.target.closest("tr"); if (row) select(row.dataset.key); });
$("graph").addEventListener("click", (event) => { const dot = event.target.closest("circle"); if (dot) select(dot.dataset.key); });
$("kill").addEventListener("click", async () => {
  if (selected === null) return;
  const [env, id] = selected.split("/");
  if (!confirm("Kill process " + id + " of environment " + env + "?")) return;
  $("kill").disabled = true;
  const response = await fetch("/api/process/" + selected + "/kill", { method: "POST", headers: token ? { "x-observe-token": token } : { "x-observe-kill": "1" } });
  const body = await response.json();
  if (response.ok) selected = null; // its details are gone; keep saying what happened
  $("details-body").textContent = response.ok ? "process " + id + " killed" : "not killed: " + body.error;
  $("kill").hidden = response.ok;
  refresh();
});
refresh();
setInterval(refresh, 1000);
</script>
</body>
</html>
`;
