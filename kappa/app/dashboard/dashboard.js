// Kappa dashboard: polls /api/job (see kappa/app/job_json.h for its fields) every second
// and redraws the page. Plain JS, no libraries; everything it shows comes from that one
// document. When the job has ended it keeps the final figures and stops polling once the
// process is gone.
'use strict';

const POLL_MS = 1000;
const FINAL_STATES = ['finished', 'failed', 'stopped'];
const MAX_TS = 9e18;  // the final watermark of an ended input is int64 max

let lastJob = null;
let lostSince = 0;
let timer = null;

// ---- formatting -----------------------------------------------------------------------

function esc(s) {
  return String(s).replace(/[&<>"']/g, c => ({'&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;'}[c]));
}

// 3 significant figures with k / M / G: 950, 12.3 k, 1.2 M.
function fmtNum(n) {
  if (n === null || n === undefined || !isFinite(n)) return '–';
  const a = Math.abs(n);
  const units = [[1e9, ' G'], [1e6, ' M'], [1e3, ' k']];
  for (const [f, u] of units) {
    if (a >= f) {
      const v = n / f;
      return (Math.abs(v) >= 100 ? v.toFixed(0) : Math.abs(v) >= 10 ? v.toFixed(1) : v.toFixed(2)).replace(/\.?0+$/, '') + u;
    }
  }
  if (a === 0) return '0';
  if (a < 10 && !Number.isInteger(n)) return n.toFixed(1).replace(/\.0$/, '');
  return Math.round(n).toString();
}

function fmtRate(n) { return fmtNum(n) + '/s'; }

function fmtBytes(b) {
  if (b === null || b === undefined || b < 0) return '–';
  if (b < 1000) return b + ' B';
  const units = ['kB', 'MB', 'GB', 'TB'];
  let v = b, i = -1;
  do { v /= 1000; i++; } while (v >= 1000 && i < units.length - 1);
  return (v >= 100 ? v.toFixed(0) : v >= 10 ? v.toFixed(1) : v.toFixed(2)).replace(/\.?0+$/, '') + ' ' + units[i];
}

// Seconds as 850 µs, 340 ms, 2.4 s, 3 min 05 s, 2 h 07 min, 1116 d 11 h.
function fmtDur(s) {
  if (s === null || s === undefined || !isFinite(s) || s < 0) return '–';
  if (s === 0) return '0';
  if (s < 1e-3) return Math.round(s * 1e6) + ' µs';
  if (s < 1) { const ms = s * 1e3; return (ms < 10 ? ms.toFixed(1).replace(/\.0$/, '') : Math.round(ms)) + ' ms'; }
  if (s < 60) return (s < 10 ? s.toFixed(1) : Math.round(s)) + ' s';
  if (s < 3600) return Math.floor(s / 60) + ' min ' + String(Math.floor(s % 60)).padStart(2, '0') + ' s';
  if (s < 2 * 86400) return Math.floor(s / 3600) + ' h ' + String(Math.floor((s % 3600) / 60)).padStart(2, '0') + ' min';
  return Math.floor(s / 86400) + ' d ' + Math.floor((s % 86400) / 3600) + ' h';
}

function pad(n, w = 2) { return String(n).padStart(w, '0'); }

// Epoch ms as UTC time of day (with the date when it is another day than `now`).
function fmtTime(ms, nowMs) {
  if (ms === null || ms === undefined) return '–';
  if (ms >= MAX_TS) return 'end of input';
  const d = new Date(ms);
  const t = pad(d.getUTCHours()) + ':' + pad(d.getUTCMinutes()) + ':' + pad(d.getUTCSeconds()) + '.' +
            pad(d.getUTCMilliseconds(), 3);
  const n = new Date(nowMs || Date.now());
  const sameDay = d.getUTCFullYear() === n.getUTCFullYear() && d.getUTCMonth() === n.getUTCMonth() &&
                  d.getUTCDate() === n.getUTCDate();
  return sameDay ? t : d.getUTCFullYear() + '-' + pad(d.getUTCMonth() + 1) + '-' + pad(d.getUTCDate()) + ' ' + t;
}

function pct(x) { return x === undefined || x === null ? '–' : Math.round(x * 100) + '%'; }

function kpi(value, label, title) {
  return `<div class="kpi"${title ? ` title="${esc(title)}"` : ''}><div class="v">${value}</div><div class="l">${esc(label)}</div></div>`;
}

function sum(xs, f) { return xs.reduce((a, x) => a + (f(x) || 0), 0); }

// ---- derived figures -----------------------------------------------------------------

function isFinal(job) { return FINAL_STATES.includes(job.state); }

function uptimeS(job) { return Math.max(0, (job.now_ms - job.started_ms) / 1000); }

// Per chain: records/s in and out. While running, over the last interval; once the job
// ended, the average over the run.
function chainRates(job, c) {
  if (isFinal(job) || c.records_in_per_s === undefined) {
    const up = uptimeS(job);
    return {inRate: up > 0 ? c.records_in / up : 0, outRate: up > 0 ? c.records_out / up : 0, average: true};
  }
  return {inRate: c.records_in_per_s, outRate: c.records_out_per_s, average: false};
}

// Background of a chain box: from idle blue to busy orange by the busy share, violet when
// backpressured most of the time (as Flink's web UI does).
function chainColour(c) {
  const busy = c.busy || 0, bp = c.backpressured || 0;
  const mix = (a, b, t) => a.map((x, i) => Math.round(x + (b[i] - x) * t));
  const idle = [220, 234, 247], hot = [232, 116, 59], back = [108, 90, 156];
  let rgb = bp > busy ? mix(idle, back, Math.min(1, bp)) : mix(idle, hot, Math.min(1, busy));
  const dark = (rgb[0] * 299 + rgb[1] * 587 + rgb[2] * 114) / 1000 < 150;
  return {css: `rgb(${rgb.join(',')})`, dark};
}

// Columns of the job graph: each chain's longest distance from a source along the edges
// (chains without edges between them stay in their order).
function graphColumns(job) {
  const n = job.chains.length;
  const level = new Array(n).fill(0);
  if (job.edges.length === 0) return level.map((_, i) => i);
  const indeg = new Array(n).fill(0), out = job.chains.map(() => []);
  for (const e of job.edges) {
    if (e.from < 0 || e.to < 0 || e.from >= n || e.to >= n) continue;
    out[e.from].push(e.to);
    indeg[e.to]++;
  }
  const queue = [];
  indeg.forEach((d, i) => { if (d === 0) queue.push(i); });
  while (queue.length) {
    const i = queue.shift();
    for (const j of out[i]) {
      level[j] = Math.max(level[j], level[i] + 1);
      if (--indeg[j] === 0) queue.push(j);
    }
  }
  return level;
}

// ---- sections --------------------------------------------------------------------------

function renderHeader(job) {
  document.getElementById('job-name').textContent = job.job || '(unnamed job)';
  document.title = (job.job || 'job') + ' · Kappa';
  const st = document.getElementById('job-state');
  st.textContent = job.state;
  st.className = 'state ' + job.state;
  document.getElementById('job-uptime').textContent =
      (isFinal(job) ? 'ran ' : 'up ') + fmtDur(uptimeS(job)) + ' · started ' +
      fmtTime(job.started_ms, job.now_ms).replace(/\.\d+$/, '') + ' UTC';

  const sources = job.sources;
  const read = sum(sources, p => p.records);
  let rate;
  if (isFinal(job)) {
    rate = uptimeS(job) > 0 ? read / uptimeS(job) : 0;
  } else {
    rate = sum(sources, p => p.records_per_s);
  }
  const lags = sources.map(p => p.lag).filter(x => x !== null && x !== undefined);
  const etl = sources.map(p => p.event_time_lag_s).filter(x => x !== null && x !== undefined);
  const errors = job.errors_decode + job.errors_user + job.errors_late;
  let html = kpi(fmtRate(rate), isFinal(job) ? 'input, average' : 'input', 'records read per second by all sources');
  html += kpi(fmtNum(read), 'records read');
  html += kpi(lags.length ? fmtNum(Math.max(...lags)) : '–', 'max lag', 'offsets behind the end (records for Kafka, bytes for a file log), the largest of any partition');
  html += kpi(etl.length ? fmtDur(Math.max(...etl)) : '–', 'event-time lag', 'now − watermark, the largest of any partition');
  html += kpi(String(job.checkpoints.completed), 'checkpoints');
  html += kpi(`<span class="${errors ? 'bad-t' : ''}">${fmtNum(errors)}</span>`, 'errors');
  document.getElementById('totals').innerHTML = html;
}

function renderGraph(job) {
  const el = document.getElementById('graph');
  if (job.chains.length === 0) {
    el.innerHTML = '<div class="empty">No tasks yet: the job is starting.</div>';
    el.style.height = '';
    return;
  }
  const W = 230, GAP_X = 96, GAP_Y = 22, PAD = 8;
  const level = graphColumns(job);
  let html = '';
  job.chains.forEach((c, i) => {
    const r = chainRates(job, c);
    const col = chainColour(c);
    const ops = c.name.split(' -> ').map(esc).join('<span class="arrow"> → </span>');
    const busy = c.busy || 0, bp = c.backpressured || 0;
    const foot = isFinal(job)
        ? `<span>${fmtNum(c.records_in)} in · ${fmtNum(c.records_out)} out</span><span>final</span>`
        : `<span>busy ${pct(c.busy)}</span><span>backpr. ${pct(c.backpressured)}</span>`;
    html += `<div class="chain${col.dark ? ' dark' : ''}" id="chain-${i}" style="background:${col.css}"` +
            ` data-name="${esc(c.name)}" data-parallelism="${c.parallelism}"` +
            ` data-records-in-per-s="${r.inRate}" data-records-out-per-s="${r.outRate}"` +
            ` data-busy="${busy}" data-backpressured="${bp}">` +
            `<div class="par" title="parallelism">×${c.parallelism}</div>` +
            `<div class="ops">${ops}</div>` +
            `<div class="rates"><span title="records in per second${r.average ? ' (average over the run)' : ''}">in <b>${fmtRate(r.inRate)}</b></span>` +
            `<span title="records out per second${r.average ? ' (average over the run)' : ''}">out <b>${fmtRate(r.outRate)}</b></span></div>` +
            `<div class="bars"><i class="b" style="width:${busy * 100}%"></i><i class="p" style="width:${bp * 100}%"></i></div>` +
            `<div class="foot">${foot}</div></div>`;
  });
  el.innerHTML = html + '<svg></svg>';

  // Place the boxes: one column per level, each column centred vertically.
  const cols = {};
  job.chains.forEach((c, i) => { (cols[level[i]] = cols[level[i]] || []).push(i); });
  const heights = job.chains.map((c, i) => document.getElementById('chain-' + i).offsetHeight);
  const colHeight = k => cols[k].reduce((a, i) => a + heights[i], 0) + GAP_Y * (cols[k].length - 1);
  const total = Math.max(...Object.keys(cols).map(colHeight));
  const pos = [];
  for (const k of Object.keys(cols)) {
    let y = PAD + (total - colHeight(k)) / 2;
    for (const i of cols[k]) {
      pos[i] = {x: PAD + Number(k) * (W + GAP_X), y, h: heights[i]};
      const box = document.getElementById('chain-' + i);
      box.style.left = pos[i].x + 'px';
      box.style.top = y + 'px';
      y += heights[i] + GAP_Y;
    }
  }
  const width = PAD * 2 + (Math.max(...level) + 1) * (W + GAP_X) - GAP_X;
  const height = total + PAD * 2 + 4;
  el.style.height = height + 'px';

  // Arrows: partitioning and channel fill on each edge.
  const svg = el.querySelector('svg');
  svg.setAttribute('width', width);
  svg.setAttribute('height', height);
  let s = '<defs><marker id="ah" viewBox="0 0 10 10" refX="9" refY="5" markerUnits="userSpaceOnUse" markerWidth="9" markerHeight="9" orient="auto">' +
          '<path d="M0,0 L10,5 L0,10 z" fill="#9aa5b1"/></marker></defs>';
  for (const e of job.edges) {
    const a = pos[e.from], b = pos[e.to];
    if (!a || !b) continue;
    const x1 = a.x + W, y1 = a.y + a.h / 2, x2 = b.x - 2, y2 = b.y + b.h / 2;
    const mx = (x1 + x2) / 2;
    const fill = e.fill || 0;
    const colour = fill > 0.9 ? '#d1453b' : fill > 0.5 ? '#d9822b' : '#9aa5b1';
    s += `<path d="M${x1},${y1} C${mx},${y1} ${mx},${y2} ${x2},${y2}" fill="none" stroke="${colour}"` +
         ` stroke-width="${1.5 + fill * 3}" marker-end="url(#ah)"/>`;
    // The label sits where the arrow leaves its box, clear of arrows converging on a join.
    s += `<text class="edge-label" x="${x1 + 6}" y="${y1 - 6}">` +
         `${esc(e.partitioning)} · ${pct(fill)}</text>`;
  }
  svg.innerHTML = s;
}

function renderCatchUp(job) {
  const card = document.getElementById('catchup-card');
  const cu = job.catch_up;
  if (!cu || !cu.tracking) {
    card.hidden = true;
    return;
  }
  card.hidden = false;
  const parts = job.sources.filter(p => p.replay_end >= 0);
  const total = sum(parts, p => p.replay_end - p.start);
  const done = sum(parts, p => Math.min(p.offset, p.replay_end) - p.start);
  const share = cu.caught_up ? 1 : total > 0 ? Math.min(1, done / total) : 0;
  const ends = parts.map(p => `${esc(p.source.slice(p.source.lastIndexOf('/') + 1))}[${p.partition}]@${p.replay_end}`).join(', ');
  let html;
  if (cu.caught_up) {
    html = `<div><span class="ok-t">Caught up</span> at ${fmtTime(cu.at_ms, job.now_ms)} UTC: every partition reached ` +
           `the end it had when the replay started; the job now follows live input. ` +
           `Readers can switch over to this run's output.</div>`;
  } else {
    html = `<div>Replaying history: <b>${pct(share)}</b> of the offsets up to the ends at the replay's start ` +
           `(${fmtNum(done)} of ${fmtNum(total)}).</div>`;
  }
  html += `<div class="progress${cu.caught_up ? ' done' : ''}"><i style="width:${share * 100}%"></i></div>`;
  if (ends) html += `<div class="muted mono">ends at start: ${ends}</div>`;
  document.getElementById('catchup').innerHTML = html;
}

function shortSource(s) { return s.length > 48 ? '…' + s.slice(-47) : s; }

function renderSources(job) {
  const el = document.getElementById('sources');
  const ps = job.sources.slice().sort((a, b) => a.source < b.source ? -1 : a.source > b.source ? 1 : a.partition - b.partition);
  if (ps.length === 0) {
    el.innerHTML = '<div class="empty">No source partitions yet.</div>';
    return;
  }
  const maxLag = Math.max(1, ...ps.map(p => p.lag || 0));
  let html = '<table><tr><th>source</th><th class="num">partition</th><th class="num">position</th>' +
             '<th class="num">end</th><th class="num">lag</th><th></th><th class="num">records/s</th>' +
             '<th class="num">watermark (UTC)</th><th class="num">event-time lag</th><th></th></tr>';
  for (const p of ps) {
    const end = p.high_water >= 0 ? p.high_water : p.end;
    const lag = p.lag;
    const bar = lag === null || lag === undefined ? '' :
        `<span class="lagbar${lag === 0 ? ' zero' : ''}"><i style="width:${lag === 0 ? 100 : Math.max(2, 100 * lag / maxLag)}%"></i></span>`;
    const rate = isFinal(job) || p.records_per_s === undefined ? '–' : fmtRate(p.records_per_s);
    let flags = '';
    if (p.finished) flags += '<span class="flag done">finished</span>';
    if (p.idle) flags += '<span class="flag">idle</span>';
    html += `<tr><td class="mono" title="${esc(p.source)}">${esc(shortSource(p.source))}</td>` +
            `<td class="num">${p.partition}</td><td class="num">${p.offset.toLocaleString('en-US')}</td>` +
            `<td class="num">${end >= 0 ? end.toLocaleString('en-US') : '<span class="muted">unbounded</span>'}</td>` +
            `<td class="num">${lag === null || lag === undefined ? '–' : fmtNum(lag)}</td><td>${bar}</td>` +
            `<td class="num">${rate}</td><td class="num mono">${fmtTime(p.watermark, job.now_ms)}</td>` +
            `<td class="num">${fmtDur(p.event_time_lag_s)}</td><td>${flags}</td></tr>`;
  }
  el.innerHTML = html + '</table>';
}

function renderCheckpoints(job) {
  const c = job.checkpoints;
  const hist = c.history;
  const last = hist.length ? hist[hist.length - 1] : null;
  let html = '<div class="stats">' + kpi(String(c.completed), 'completed') +
             kpi(`<span class="${c.failed ? 'bad-t' : ''}">${c.failed}</span>`, 'failed') +
             kpi(last ? fmtDur(last.duration_s) : '–', 'last duration') +
             kpi(last ? fmtBytes(last.bytes) : '–', 'last size') + '</div>';
  if (c.restored_id >= 0) {
    html += `<div class="muted">Restored checkpoint ${c.restored_id} at start in ${fmtDur(c.restore_s)}.</div>`;
  }
  if (hist.length === 0) {
    html += `<div class="empty">${c.completed ? c.completed + ' completed; no history recorded.' : 'No checkpoint yet (run with --checkpoint-dir to take them).'}</div>`;
    document.getElementById('checkpoints').innerHTML = html;
    return;
  }
  // Bar chart of durations, the newest on the right.
  const box = document.getElementById('checkpoints');
  const W = Math.max(240, box.clientWidth || 520), H = 90, n = hist.length, bw = Math.min(28, (W - 4) / n);
  const maxD = Math.max(1e-3, ...hist.map(h => h.duration_s));
  html += `<svg class="chart" width="${W}" height="${H}">`;
  hist.forEach((h, i) => {
    const bh = Math.max(2, (H - 28) * h.duration_s / maxD);
    html += `<rect class="${h.completed ? 'ok' : 'failed'}" x="${i * bw + 2}" y="${H - 14 - bh}" width="${bw - 3}" height="${bh}">` +
            `<title>#${h.id}: ${fmtDur(h.duration_s)}${h.completed ? '' : ' (failed)'}</title></rect>`;
  });
  html += `<text x="2" y="${H - 2}">#${hist[0].id}</text><text x="${W - 2}" y="${H - 2}" text-anchor="end">#${hist[n - 1].id}</text>` +
          `<text x="2" y="10">duration, max ${fmtDur(maxD)}</text></svg>`;
  html += '<table><tr><th>id</th><th>triggered (UTC)</th><th class="num">duration</th><th class="num">alignment</th>' +
          '<th class="num">size</th><th>status</th></tr>';
  for (const h of hist.slice(-6).reverse()) {
    html += `<tr><td>${h.id}</td><td class="mono">${fmtTime(h.triggered_ms, job.now_ms)}</td>` +
            `<td class="num">${fmtDur(h.duration_s)}</td><td class="num">${fmtDur(h.alignment_s)}</td>` +
            `<td class="num">${fmtBytes(h.bytes)}</td>` +
            `<td>${h.completed ? '<span class="ok-t">ok</span>' : `<span class="bad-t" title="${esc(h.error)}">failed</span> <span class="muted">${esc(h.error)}</span>`}</td></tr>`;
  }
  document.getElementById('checkpoints').innerHTML = html + '</table>';
}

function renderLatency(job) {
  const row = (label, h) => `<tr><td>${label}</td><td class="num">${fmtDur(h.p50_s)}</td>` +
                            `<td class="num">${fmtDur(h.p99_s)}</td><td class="num">${fmtNum(h.count)}</td></tr>`;
  let html = '<table><tr><th>end-to-end latency</th><th class="num">p50</th><th class="num">p99</th><th class="num" title="records timed at the sinks (a sample of them)">samples</th></tr>' +
             row('event time → emission', job.event_time_latency) +
             row('ingestion → emission', job.ingestion_latency) + '</table>';
  if (job.sinks.length) {
    html += '<table style="margin-top:12px"><tr><th>sink</th><th class="num">commits</th><th class="num">last commit</th></tr>';
    for (const k of job.sinks) {
      html += `<tr><td class="mono">${esc(k.uid)} #${k.subtask}</td><td class="num">${fmtNum(k.commits)}</td>` +
              `<td class="num">${fmtDur(k.last_commit_s)}</td></tr>`;
    }
    html += '</table>';
  }
  document.getElementById('latency').innerHTML = html;
}

function renderState(job) {
  // Keyed operators' state, summed over their instances; caches per chain.
  const ops = new Map();
  for (const t of job.tasks) {
    for (const o of t.operators) {
      if (o.state_entries < 0 && o.state_bytes < 0) continue;
      const s = ops.get(o.uid) || {name: o.name, entries: 0, bytes: 0};
      s.entries += Math.max(0, o.state_entries);
      s.bytes += Math.max(0, o.state_bytes);
      ops.set(o.uid, s);
    }
  }
  const caches = new Map();
  for (const t of job.tasks) {
    if (t.cache_hits < 0) continue;
    const c = caches.get(t.node) || {hits: 0, misses: 0, evictions: 0};
    c.hits += t.cache_hits; c.misses += t.cache_misses; c.evictions += t.cache_evictions;
    caches.set(t.node, c);
  }
  let html = '';
  if (ops.size) {
    html += '<table><tr><th>operator</th><th class="num">entries</th><th class="num">size</th></tr>';
    for (const [uid, s] of ops) {
      html += `<tr><td class="mono" title="${esc(s.name)}">${esc(uid)}</td><td class="num">${fmtNum(s.entries)}</td>` +
              `<td class="num">${fmtBytes(s.bytes)}</td></tr>`;
    }
    html += '</table>';
  }
  if (caches.size) {
    html += '<table style="margin-top:12px"><tr><th>write-back cache</th><th class="num">hit rate</th>' +
            '<th class="num">hits</th><th class="num">misses</th><th class="num">evictions</th></tr>';
    for (const [node, c] of caches) {
      const name = job.chains[node] ? job.chains[node].name : '#' + node;
      const lookups = c.hits + c.misses;
      html += `<tr><td title="${esc(name)}">${esc(name.length > 40 ? name.slice(0, 39) + '…' : name)}</td>` +
              `<td class="num">${lookups ? pct(c.hits / lookups) : '–'}</td><td class="num">${fmtNum(c.hits)}</td>` +
              `<td class="num">${fmtNum(c.misses)}</td><td class="num">${fmtNum(c.evictions)}</td></tr>`;
    }
    html += '</table>';
  }
  document.getElementById('state').innerHTML = html || '<div class="empty">No keyed state reported.</div>';
}

function renderErrors(job) {
  let html = '<div class="stats">' + kpi(fmtNum(job.errors_decode), 'bad input') + kpi(fmtNum(job.errors_user), 'user function') +
             kpi(fmtNum(job.errors_late), 'late') + '</div>';
  if (job.last_errors.length === 0) {
    html += '<div class="empty">No errors.</div>';
  } else {
    html += '<table>';
    for (const e of job.last_errors.slice().reverse().slice(0, 8)) {
      html += `<tr><td class="mono" style="white-space:nowrap">${fmtTime(e.time_ms, job.now_ms)}</td>` +
              `<td><span class="kind ${esc(e.kind)}">${esc(e.kind)}</span></td><td class="mono">${esc(e.operator_name)}</td>` +
              `<td class="err">${esc(e.error)}</td></tr>`;
    }
    html += '</table>';
  }
  document.getElementById('errors').innerHTML = html;
}

function renderTasks(job) {
  let html = '<table><tr><th>chain</th><th class="num">#</th><th class="num">records in</th><th class="num">records out</th>' +
             '<th class="num">in/s</th><th class="num">out/s</th><th class="num">busy</th><th class="num">backpr.</th>' +
             '<th class="num">idle</th><th class="num">watermark (UTC)</th><th></th></tr>';
  for (const t of job.tasks) {
    const c = job.chains[t.node];
    const name = c ? c.name : '#' + t.node;
    html += `<tr><td title="${esc(name)}">${esc(name.length > 48 ? name.slice(0, 47) + '…' : name)}</td><td class="num">${t.subtask}</td>` +
            `<td class="num">${fmtNum(t.records_in)}</td><td class="num">${fmtNum(t.records_out)}</td>` +
            `<td class="num">${t.records_in_per_s === undefined ? '–' : fmtRate(t.records_in_per_s)}</td>` +
            `<td class="num">${t.records_out_per_s === undefined ? '–' : fmtRate(t.records_out_per_s)}</td>` +
            `<td class="num">${pct(t.busy)}</td><td class="num">${pct(t.backpressured)}</td><td class="num">${pct(t.idle)}</td>` +
            `<td class="num mono">${fmtTime(t.watermark, job.now_ms)}</td>` +
            `<td>${t.finished ? '<span class="flag done">finished</span>' : ''}</td></tr>`;
  }
  document.getElementById('tasks').innerHTML = html + '</table>';
}

function render(job) {
  renderHeader(job);
  renderGraph(job);
  renderCatchUp(job);
  renderSources(job);
  renderCheckpoints(job);
  renderLatency(job);
  renderState(job);
  renderErrors(job);
  renderTasks(job);
}

// ---- polling ----------------------------------------------------------------------------

function setConn(cls, text) {
  const el = document.getElementById('conn');
  el.className = 'conn ' + cls;
  el.innerHTML = `<span class="dot"></span>${esc(text)}`;
}

function setBanner(text, cls) {
  const b = document.getElementById('banner');
  b.hidden = !text;
  b.className = 'banner ' + (cls || '');
  b.textContent = text || '';
}

function schedule(ms) {
  clearTimeout(timer);
  timer = setTimeout(tick, ms);
}

async function tick() {
  let job;
  try {
    const r = await fetch('api/job', {cache: 'no-store'});
    if (!r.ok) throw new Error('HTTP ' + r.status);
    job = await r.json();
  } catch (e) {
    if (lastJob && isFinal(lastJob)) {
      // The process ended after its job did: keep the final figures, stop polling.
      setConn('ended', 'job ended');
      setBanner(`The job ${lastJob.state} and its process has exited; these are its final figures.`, 'info');
      return;
    }
    if (!lostSince) lostSince = Date.now();
    setConn('lost', 'not reachable');
    setBanner(`Cannot reach the job since ${fmtTime(lostSince)} UTC (${e.message}); ` +
              (lastJob ? 'showing the last figures; ' : '') + 'retrying…');
    schedule(Math.min(10000, POLL_MS * 3));
    return;
  }
  lostSince = 0;
  lastJob = job;
  try {
    render(job);
  } catch (e) {
    setBanner('Could not draw the job: ' + e.message);
  }
  if (isFinal(job)) {
    setConn('ended', 'job ' + job.state);
    setBanner(`The job ${job.state} after ${fmtDur(uptimeS(job))}; showing its final figures.`, 'info');
    schedule(POLL_MS * 5);
  } else {
    setConn('', 'live ' + fmtTime(job.now_ms, job.now_ms).slice(0, 8));
    setBanner('');
    schedule(POLL_MS);
  }
}

tick();
