// Otedama dashboard: REST for tables, the WebSocket (/api/ws) for live charts and events.
// Plain ES module; uPlot (bundled, pinned) draws the charts.

const $ = (sel) => document.querySelector(sel);
const MAX_POINTS = 720;  // an hour at the node's 5 s pushes

// ---- formatting --------------------------------------------------------------------------

export function rate(hs) {
  const units = ["H/s", "kH/s", "MH/s", "GH/s", "TH/s", "PH/s", "EH/s"];
  let i = 0;
  while (hs >= 1000 && i < units.length - 1) { hs /= 1000; i++; }
  return (i === 0 ? hs.toFixed(0) : hs.toFixed(2)) + " " + units[i];
}
const ago = (t) => {
  if (!t) return "never";
  const s = Math.max(0, Date.now() / 1000 - t);
  if (s < 60) return Math.round(s) + " s ago";
  if (s < 3600) return Math.round(s / 60) + " min ago";
  if (s < 86400) return Math.round(s / 3600) + " h ago";
  return new Date(t * 1000).toLocaleDateString();
};
const when = (t) => (t ? new Date(t * 1000).toLocaleString() : "–");
const short = (s, n = 10) => (s && s.length > 2 * n ? s.slice(0, n) + "…" + s.slice(-n) : s || "");

function cell(text, cls) {
  const td = document.createElement("td");
  td.textContent = text;
  if (cls) td.className = cls;
  return td;
}
function fillTable(id, rows) {
  const body = document.querySelector(`#${id} tbody`);
  body.replaceChildren(...rows.map((cells) => {
    const tr = document.createElement("tr");
    tr.append(...cells);
    return tr;
  }));
}

async function api(path, options = {}) {
  const r = await fetch(path, options);
  let body = null;
  try { body = await r.json(); } catch { /* not JSON */ }
  if (!r.ok) {
    const msg = body && body.error ? body.error.message : `HTTP ${r.status}`;
    throw Object.assign(new Error(msg), { status: r.status });
  }
  return body;
}

// ---- charts ------------------------------------------------------------------------------

const palette = ["#2d5fa8", "#2f7d4f", "#b8741a", "#8a3fa0", "#b23b3b"];

class LiveChart {
  constructor(el, label) {
    this.el = el;
    this.label = label;
    this.names = [];
    this.data = [[]];
    this.plot = null;
  }
  ensure(names) {
    if (this.plot && names.join() === this.names.join()) return;
    this.names = names;
    this.data = [[], ...names.map(() => [])];
    if (this.plot) this.plot.destroy();
    const opts = {
      width: Math.max(200, this.el.clientWidth),
      height: this.el.clientWidth < 500 ? 180 : 220,
      legend: { show: true },
      scales: { x: { time: true } },
      axes: [{}, { values: (u, ticks) => ticks.map((v) => rate(v)), size: 80 }],
      series: [{}, ...names.map((n, i) => ({
        label: n, stroke: palette[i % palette.length], width: 2, fill: palette[i % palette.length] + "22",
        value: (u, v) => (v == null ? "–" : rate(v)),
      }))],
    };
    this.plot = new uPlot(opts, this.data, this.el);
  }
  push(t, values) {
    this.data[0].push(t);
    values.forEach((v, i) => this.data[i + 1].push(v));
    if (this.data[0].length > MAX_POINTS) this.data.forEach((s) => s.shift());
    this.plot.setData(this.data);
    this.el.dataset.points = String(this.data[0].length);
  }
  resize() {
    if (this.plot) this.plot.setSize({ width: Math.max(200, this.el.clientWidth), height: this.el.clientWidth < 500 ? 180 : 220 });
  }
}

const poolChart = new LiveChart($("#pool-chart"), "pool");
const ownChart = new LiveChart($("#own-chart"), "own");
window.addEventListener("resize", () => { poolChart.resize(); ownChart.resize(); });

// ---- rendering ---------------------------------------------------------------------------

function renderCards(stats) {
  const cards = [];
  for (const p of stats.pools) {
    cards.push([`${p.name} hashrate (15m)`, rate(p.hashrate["15m"])]);
    cards.push([`${p.name} miners / workers`, `${p.miners} / ${p.workers}`]);
    cards.push([`${p.name} shares valid`, p.shares.valid.toLocaleString()]);
    cards.push([`${p.name} blocks / effort`, `${p.blocks_found} / ${(p.effort * 100).toFixed(1)} %`]);
    cards.push([`${p.name} height`, p.height ? p.height.toLocaleString() : "–"]);
  }
  $("#cards").replaceChildren(...cards.map(([label, value]) => {
    const d = document.createElement("div");
    d.className = "card";
    d.innerHTML = `<div class="label"></div><div class="value"></div>`;
    d.querySelector(".label").textContent = label;
    d.querySelector(".value").textContent = value;
    return d;
  }));
}

function renderMiner(m) {
  const state = $("#miner-state");
  if (!m) {
    state.textContent = "none";
    state.className = "pill";
    $("#miner-rate").textContent = "no built-in miner";
    return;
  }
  state.textContent = m.running ? "running" : "stopped";
  state.className = "pill " + (m.running ? "on" : "off");
  state.dataset.running = String(m.running);
  $("#miner-rate").textContent = m.running ? rate(m.hashrate) : "–";
  $("#miner-start").disabled = m.running;
  $("#miner-stop").disabled = !m.running;
}

async function refreshWorkers() {
  const w = await api("/api/workers");
  fillTable("workers", w.workers.map((x) => [
    cell(`${short(x.miner, 8)}.${x.worker}`), cell(x.pool), cell(rate(x.hashrate["1m"]), "num"),
    cell(rate(x.hashrate["15m"]), "num"), cell(rate(x.hashrate["1h"]), "num"), cell(x.difficulty.toPrecision(4), "num"),
    cell(x.shares.valid.toLocaleString(), "num"), cell((x.shares.total - x.shares.valid).toLocaleString(), "num"),
    cell(ago(x.last_share)),
  ]));
}

async function refreshBlocks() {
  const b = await api("/api/blocks?limit=20");
  fillTable("blocks", b.blocks.map((x) => [
    cell(when(x.time)), cell(x.coin), cell(String(x.height), "num"), cell(x.hash, "hash"), cell(x.status),
    cell((x.effort * 100).toFixed(1) + " %", "num"), cell(short(x.miner, 8)),
  ]));
}

async function refreshPayments() {
  const p = await api("/api/payments?limit=20");
  fillTable("payments", p.payments.map((x) => [
    cell(when(x.time)), cell(x.coin), cell(short(x.address, 8)), cell(String(x.amount), "num"), cell(x.txid, "hash"),
  ]));
}

async function refreshStatus() {
  const s = await api("/api/status");
  $("#version").textContent = s.version;
  $("#uptime").textContent = "up " + Math.round(s.uptime_seconds / 60) + " min";
  const p2p = $("#p2p");
  p2p.hidden = !s.p2p.enabled;
  if (s.p2p.enabled)
    fillTable("peers", s.p2p.peers.map((x) => [cell(x.address), cell(x.outbound ? "out" : "in"),
      cell(x.latency_ms.toFixed(0) + " ms", "num"), cell(String(x.height), "num")]));
  if (!s.mining.miner) renderMiner(null);
}

async function refreshStats() {
  const st = await api("/api/stats");
  renderCards(st);
  if (st.miner) renderMiner(st.miner);
}

function refreshAll() {
  for (const f of [refreshStatus, refreshStats, refreshWorkers, refreshBlocks, refreshPayments])
    f().catch((e) => console.warn(f.name, e.message));
}

// ---- live updates ------------------------------------------------------------------------

// At most one call per `ms`, the last request always honoured (events can come in bursts:
// a regtest chain finds blocks many times a second).
function throttled(f, ms) {
  let due = 0, timer = null;
  return () => {
    const wait = due - Date.now();
    if (wait <= 0 && !timer) {
      due = Date.now() + ms;
      f().catch(() => {});
    } else if (!timer) {
      timer = setTimeout(() => { timer = null; due = Date.now() + ms; f().catch(() => {}); }, Math.max(wait, 0));
    }
  };
}
const liveStats = throttled(refreshStats, 2000);
const liveWorkers = throttled(refreshWorkers, 2000);
const liveBlocks = throttled(refreshBlocks, 2000);
const livePayments = throttled(refreshPayments, 2000);

let backoff = 500;
function connect() {
  const proto = location.protocol === "https:" ? "wss:" : "ws:";
  const ws = new WebSocket(`${proto}//${location.host}/api/ws?topics=hashrate,share,block,payment,miner`);
  const conn = $("#conn");
  ws.onopen = () => { conn.textContent = "live"; conn.className = "pill on"; backoff = 500; };
  ws.onclose = () => {
    conn.textContent = "offline";
    conn.className = "pill off";
    setTimeout(connect, backoff);
    backoff = Math.min(backoff * 2, 15000);
  };
  ws.onmessage = (ev) => {
    const m = JSON.parse(ev.data);
    if (m.type === "hashrate") {
      poolChart.ensure(m.pools.map((p) => p.name));
      poolChart.push(m.time, m.pools.map((p) => p.hashrate["1m"]));
      if (m.miner) {
        ownChart.ensure(["built-in miner"]);
        ownChart.push(m.time, [m.miner.running ? m.miner.hashrate : 0]);
        renderMiner(m.miner);
      }
      liveStats();
    } else if (m.type === "shares") {
      liveWorkers();
    } else if (m.type === "block") {
      liveBlocks();
    } else if (m.type === "payment") {
      livePayments();
    } else if (m.type === "miner") {
      renderMiner(m.miner);
    }
  };
}

// ---- login and miner control -------------------------------------------------------------

const token = () => sessionStorage.getItem("otedama-token");
function showControl() {
  const has = !!token();
  $("#login-form").hidden = has;
  $("#control").hidden = !has;
}
function say(text) { $("#control-msg").textContent = text; }

$("#login-form").addEventListener("submit", async (e) => {
  e.preventDefault();
  try {
    const r = await api("/api/auth/login", {
      method: "POST", headers: { "Content-Type": "application/json" },
      body: JSON.stringify({ username: $("#login-user").value, password: $("#login-pass").value }),
    });
    sessionStorage.setItem("otedama-token", r.token);
    $("#login-pass").value = "";
    say(`logged in as ${r.user}`);
  } catch (err) {
    say(err.message);
  }
  showControl();
});

async function control(action) {
  try {
    const r = await api(`/api/mining/${action}`, { method: "POST", headers: { Authorization: `Bearer ${token()}` } });
    renderMiner(r.miner);
    say(`miner ${r.miner.running ? "started" : "stopped"}`);
  } catch (err) {
    if (err.status === 401) sessionStorage.removeItem("otedama-token");
    say(err.message);
    showControl();
  }
}
$("#miner-start").addEventListener("click", () => control("start"));
$("#miner-stop").addEventListener("click", () => control("stop"));
$("#logout").addEventListener("click", async () => {
  try { await api("/api/auth/logout", { method: "POST", headers: { Authorization: `Bearer ${token()}` } }); } catch { /* gone already */ }
  sessionStorage.removeItem("otedama-token");
  say("logged out");
  showControl();
});

showControl();
refreshAll();
setInterval(refreshAll, 15000);
connect();
