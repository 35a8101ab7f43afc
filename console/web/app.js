// flowguard console page: polls the JSON API (no framework, no CDN). Every value from the network is
// put into the page as text (textContent), never as HTML.
'use strict';

const $ = (id) => document.getElementById(id);
const state = {
  token: sessionStorage.getItem('flowguard-token') || '',
  overview: null,
  pages: [],          // keyset paging: the before_id of each page shown so far
  beforeId: 0,
  nextBeforeId: null,
  autoUnblock: null,  // deep link: #unblock=ADDR clicks that row's Unblock button once (see docs/console.md)
};
const PALETTE = ['#d62728', '#1f77b4', '#ff7f0e', '#2ca02c', '#9467bd', '#8c564b', '#e377c2', '#7f7f7f',
                 '#bcbd22', '#17becf', '#393b79', '#637939', '#8c6d31', '#843c39', '#7b4173'];
const colours = new Map();
const colour = (name) => {
  if (!colours.has(name)) colours.set(name, PALETTE[colours.size % PALETTE.length]);
  return colours.get(name);
};

function el(tag, attrs, ...children) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (k === 'class') e.className = v;
    else if (k.startsWith('on')) e.addEventListener(k.slice(2), v);
    else if (k === 'dataset') Object.assign(e.dataset, v);
    else if (k === 'style') Object.assign(e.style, v);  // CSSOM, allowed by the CSP (style attributes are not)
    else e.setAttribute(k, v);
  }
  for (const c of children) if (c !== null && c !== undefined) e.append(c instanceof Node ? c : String(c));
  return e;
}
function svg(tag, attrs) {
  const e = document.createElementNS('http://www.w3.org/2000/svg', tag);
  for (const [k, v] of Object.entries(attrs || {})) e.setAttribute(k, v);
  return e;
}
const fmtTime = (ms) => (ms ? new Date(ms).toISOString().replace('T', ' ').replace(/\.\d+Z$/, 'Z') : '–');
const fmtNum = (n) => (typeof n === 'number' ? n.toLocaleString('en-US', {maximumFractionDigits: 1}) : '–');

function message(text, kind) {
  const m = el('div', {class: 'msg ' + (kind || 'info')}, text);
  $('messages').prepend(m);
  while ($('messages').children.length > 5) $('messages').lastChild.remove();
}

async function api(path) {
  const r = await fetch(path, {headers: {'Accept': 'application/json'}, cache: 'no-store'});
  const body = await r.json().catch(() => ({error: 'HTTP ' + r.status}));
  if (!r.ok) throw new Error(body.error || ('HTTP ' + r.status));
  return body;
}

// State-changing requests: POST, JSON body, the token in a header (a cross-site form cannot set one).
async function action(path, body, what) {
  if (!state.token) { message(what + ': enter the action token first (top right)', 'error'); return false; }
  try {
    const r = await fetch(path, {method: 'POST', cache: 'no-store', headers: {
      'Content-Type': 'application/json', 'X-Flowguard-Token': state.token}, body: JSON.stringify(body)});
    const out = await r.json().catch(() => ({error: 'HTTP ' + r.status}));
    if (!r.ok) { message(what + ' failed (' + r.status + '): ' + (out.error || ''), 'error'); return false; }
    message(what + ': ' + (out.message || 'done'), 'ok');
    return true;
  } catch (e) {
    message(what + ' failed: ' + e.message, 'error');
    return false;
  }
}

// ---------------------------------------------------------------- overview (KPIs, health, model)
function setText(id, v) { $(id).textContent = v; }

async function loadOverview() {
  const o = await api('/api/overview');
  state.overview = o;
  for (const [key, label] of [['capture', 'agent'], ['infer', 'server']]) {
    const p = o[key];
    const b = $('health-' + key);
    b.textContent = label + (p.up ? ' up' : ' down');
    b.className = 'badge ' + (p.up ? 'up' : 'down');
    b.title = p.up ? `${p.process} ${p.version}, up ${Math.round(p.uptime_ms / 1000)} s` : (p.error || '');
  }
  setText('kpi-flows', fmtNum(o.flows_per_second));
  const ev = o.events;
  if (ev) {
    setText('kpi-alerts-1m', fmtNum(ev.alerts_last_minute));
    setText('kpi-alerts-1h', fmtNum(ev.alerts_last_hour));
    setText('kpi-blocks-1m', fmtNum(ev.blocks_last_minute));
    setText('kpi-blocks-1h', fmtNum(ev.blocks_last_hour));
    setText('kpi-alerts-total', fmtNum(ev.alerts_total));
  } else {
    for (const id of ['kpi-alerts-1m', 'kpi-alerts-1h', 'kpi-blocks-1m', 'kpi-blocks-1h', 'kpi-alerts-total']) setText(id, '–');
    message('event store: ' + (o.store.error || 'unavailable'), 'error');
  }
  setText('kpi-active-blocks', o.blocks_active === null || o.blocks_active === undefined ? '–' : fmtNum(o.blocks_active));
  setText('kpi-model', o.model ? `${o.model.name} ${o.model.version} (${o.model.architecture})` : 'no model (server down?)');
  const l = o.loss || {};
  setText('kpi-loss', `drops ${fmtNum((l.kernel_dropped || 0) + (l.interface_dropped || 0) + (l.events_dropped || 0))} · ` +
    `shed ${fmtNum((l.link_shed || 0) + (l.server_shed_overload || 0) + (l.server_shed_error || 0))} · ` +
    `fail-open ${fmtNum(l.link_unjudged_fail_open || 0)}`);
  $('kpi-loss').title = JSON.stringify(l);
  const ms = $('model-status');
  ms.replaceChildren();
  if (o.model) {
    ms.append(el('div', {}, el('b', {}, o.model.name + ' ' + o.model.version), ` ${o.model.architecture}, profile ${o.model.feature_profile}, ${o.model.classes} classes`),
              el('div', {class: 'muted'}, 'loaded ' + fmtTime(o.model.loaded_at_unix_ms) + ', sha256 ' + o.model.sha256.slice(0, 12)));
  }
  if (o.infer.up) {
    ms.append(el('div', {class: 'muted'}, `sessions ${o.infer.sessions}, queue ${o.infer.queue_depth} flows`));
    if (o.infer.last_reload_error) ms.append(el('div', {class: 'msg error'}, 'last reload failed: ' + o.infer.last_reload_error));
  } else {
    ms.append(el('div', {class: 'msg error'}, 'server: ' + (o.infer.error || 'down')));
  }
  setText('updated', 'updated ' + fmtTime(o.now_ms));
}

// ---------------------------------------------------------------- timeline and distribution
function currentRange() {
  const o = state.overview;
  const ev = o && o.events;
  if ($('range').value === 'all' && ev && ev.newest_alert_us) {
    const from = Math.floor(ev.oldest_alert_us / 1000), to = Math.floor(ev.newest_alert_us / 1000) + 1;
    return {from, to: Math.max(to, from + 60000), note: 'all stored alerts'};
  }
  const span = Number($('range').value) || 3600000;
  let to = o ? o.now_ms : Date.now();
  let note = '';
  // Replayed captures carry old packet times: show the span that ends at the newest alert instead of
  // an empty "last hour".
  const newest = o && o.events && o.events.newest_alert_us ? Math.floor(o.events.newest_alert_us / 1000) : 0;
  if (newest && newest < to - span) { to = newest + 1; note = 'ending at the newest alert (' + fmtTime(newest) + ')'; }
  return {from: to - span, to, note};
}

async function loadCharts() {
  const r = currentRange();
  setText('range-note', r.note);
  const q = `from_ms=${r.from}&to_ms=${r.to}`;
  const [tl, dist] = await Promise.all([api('/api/timeline?' + q + '&buckets=60'), api('/api/distribution?' + q + '&top=10')]);
  drawTimeline(tl);
  drawBars($('dist-classes'), dist.classes, 'class');
  drawBars($('dist-actions'), dist.actions, 'action');
  const tb = $('top-sources');
  tb.replaceChildren();
  for (const s of dist.top_sources) {
    tb.append(el('tr', {}, el('td', {}, el('a', {href: '#', onclick: (e) => { e.preventDefault(); $('f-address').value = s.name; resetPaging(); loadEvents(); }}, s.name)),
                 el('td', {class: 'num'}, fmtNum(s.count))));
  }
  const sel = $('f-class');
  const chosen = sel.value;
  const known = new Set([...sel.options].map((o) => o.value));
  for (const c of dist.classes) if (!known.has(c.name)) sel.append(el('option', {value: c.name}, c.name));
  sel.value = chosen;
}

function drawTimeline(tl) {
  const s = $('timeline');
  s.replaceChildren();
  const W = 960, H = 200, n = tl.buckets;
  const names = Object.keys(tl.series).sort();
  const totals = new Array(n).fill(0);
  for (const k of names) tl.series[k].forEach((v, i) => { totals[i] += v; });
  const max = Math.max(1, ...totals);
  const bw = W / n;
  s.append(svg('line', {x1: 0, y1: H, x2: W, y2: H, stroke: '#999'}));
  const base = new Array(n).fill(0);
  let drawn = 0;
  for (const k of names) {
    tl.series[k].forEach((v, i) => {
      if (!v) return;
      const h = (v / max) * (H - 24);  // room for the label at the top
      const y = H - base[i] - h;
      base[i] += h;
      const rect = svg('rect', {x: (i * bw + 1).toFixed(1), y: y.toFixed(1), width: Math.max(1, bw - 2).toFixed(1),
                                 height: Math.max(0.5, h).toFixed(1), fill: colour(k), class: 'bar', 'data-class': k, 'data-count': v});
      const t = svg('title', {});
      t.textContent = `${k}: ${v} alerts from ${fmtTime((tl.from_us + i * tl.step_us) / 1000)}`;
      rect.append(t);
      s.append(rect);
      drawn += v;
    });
  }
  const label = svg('text', {x: 4, y: 14, class: 'axis'});
  label.textContent = `max ${max} alerts per ${Math.round(tl.step_us / 1e6)} s · ${fmtTime(tl.from_us / 1000)} → ${fmtTime(tl.to_us / 1000)}`;
  s.append(label);
  s.dataset.total = drawn;
  const lg = $('legend');
  lg.replaceChildren(...names.map((k) => el('span', {class: 'key'}, el('i', {style: {background: colour(k)}}), k)));
  if (!names.length) lg.append(el('span', {class: 'muted'}, 'no alerts in this range'));
}

function drawBars(box, list, kind) {
  box.replaceChildren();
  const max = Math.max(1, ...list.map((x) => x.count));
  for (const x of list) {
    box.append(el('div', {class: 'hbar', dataset: {name: x.name, count: x.count}},
      el('span', {class: 'name'}, x.name),
      el('span', {class: 'track'}, el('span', {class: 'fill', style: {width: (100 * x.count / max).toFixed(1) + '%', background: kind === 'class' ? colour(x.name) : '#555'}})),
      el('span', {class: 'num'}, fmtNum(x.count))));
  }
  if (!list.length) box.append(el('div', {class: 'muted'}, 'none'));
}

// ---------------------------------------------------------------- events
const FIRST = ['id', 'ts_us', 'src_ip', 'src_port', 'dest_ip', 'dest_port', 'proto', 'class', 'score', 'action', 'enforcement'];
const HIDDEN = new Set(['flow_id', 'threshold', 'model']);

function resetPaging() { state.pages = []; state.beforeId = 0; }

function localToMs(v) { return v ? new Date(v + 'Z').getTime() : 0; }  // the inputs are read as UTC

async function loadEvents() {
  const p = new URLSearchParams();
  const add = (k, v) => { if (v) p.set(k, v); };
  add('q', $('f-q').value.trim());
  add('class', $('f-class').value);
  add('action', $('f-action').value);
  add('address', $('f-address').value.trim());
  add('from_ms', localToMs($('f-from').value));
  add('to_ms', localToMs($('f-to').value));
  add('before_id', state.beforeId);
  p.set('limit', 25);
  let r;
  try {
    r = await api('/api/events?' + p.toString());
  } catch (e) {
    message('events: ' + e.message, 'error');
    return;
  }
  const cols = [...FIRST.filter((c) => r.columns.includes(c)), ...r.columns.filter((c) => !FIRST.includes(c) && !HIDDEN.has(c))];
  $('events-head').replaceChildren(el('tr', {}, ...cols.map((c) => el('th', {}, c === 'ts_us' ? 'time (packet)' : c)), el('th', {}, '')));
  const body = $('events-body');
  body.replaceChildren();
  for (const row of r.rows) {
    // Blocks in red; verdicts the model abstained on (an `unknown` column, when the agent stores it) greyed.
    const tr = el('tr', {dataset: {id: row.id}, class: (row.action === 'block' ? 'block' : '') + (row.unknown ? ' unknown' : '')});
    for (const c of cols) {
      let v = row[c];
      if (c === 'ts_us') v = fmtTime(Math.floor(v / 1000));
      else if (typeof v === 'number' && !Number.isInteger(v)) v = v.toFixed(3);
      else if (v === null || v === undefined) v = '';
      tr.append(el('td', {class: 'c-' + c, title: String(v)}, String(v)));
    }
    tr.append(el('td', {}, el('button', {class: 'fp', dataset: {alert: row.id}, onclick: () => markFalsePositive(row.id)}, 'false positive')));
    body.append(tr);
  }
  if (!r.rows.length) body.append(el('tr', {}, el('td', {colspan: cols.length + 1, class: 'muted'}, r.partial ? 'no matches in this stretch: older ›' : 'no events match')));
  state.nextBeforeId = r.next_before_id;
  $('page-older').disabled = r.next_before_id === null;
  $('page-newest').disabled = state.beforeId === 0;
  setText('page-info', `page ${state.pages.length + 1}, ${r.rows.length} rows, alerts #${r.scanned_from_id ?? ''}…#${r.scanned_to_id ?? ''}` +
    (r.partial ? ' searched (more below: older ›)' : '') + (r.note ? ' · ' + r.note : ''));
}

async function markFalsePositive(id) {
  const note = (window.prompt && !state.autoUnblock) ? (window.prompt(`Alert ${id} was a false positive. Note (optional):`, '') ?? null) : '';
  if (note === null) return;
  await action(`/api/alerts/${id}/false-positive`, {note, operator: 'console'}, `mark alert ${id} false positive`);
}

// ---------------------------------------------------------------- blocks and model
function evidenceText(b) {
  if (b.evidence && typeof b.evidence === 'object') {  // BlockEntry.evidence from an agent that sends it
    const e = b.evidence;
    const parts = [];
    if (e.flows) parts.push(`${e.flows} flows`);
    if (e.classes) parts.push([].concat(e.classes).join('/'));
    if (e.max_score) parts.push('max ' + Number(e.max_score).toFixed(2));
    if (e.offence) parts.push('offence ' + e.offence);
    if (e.rule) parts.push('rule ' + e.rule);
    return parts.length ? parts.join(', ') : JSON.stringify(e);
  }
  const s = b.stored || {};
  if (s.evidence) return typeof s.evidence === 'string' ? s.evidence : JSON.stringify(s.evidence);
  const known = new Set(['id', 'ts_ms', 'address', 'reason', 'model_version', 'expires_ms', 'manual', 'outcome']);
  const extra = Object.entries(s).filter(([k]) => !known.has(k)).map(([k, v]) => `${k}=${v}`);
  return extra.length ? extra.join(', ') : (s.outcome ? 'outcome ' + s.outcome : '');
}

async function loadBlocks() {
  let r;
  try { r = await api('/api/blocks'); } catch (e) {
    $('blocks-body').replaceChildren(el('tr', {}, el('td', {colspan: 7, class: 'msg error'}, 'agent: ' + e.message)));
    return;
  }
  setText('blocks-mode', r.message || '');
  const body = $('blocks-body');
  body.replaceChildren();
  for (const b of r.blocks) {
    body.append(el('tr', {dataset: {address: b.address}},
      el('td', {}, b.address), el('td', {}, b.manual ? 'manual' : 'model ' + b.model_version),
      el('td', {}, b.reason), el('td', {class: 'evidence'}, evidenceText(b)),
      el('td', {}, fmtTime(b.created_unix_ms)), el('td', {}, b.expires_unix_ms > 0 ? fmtTime(b.expires_unix_ms) : 'never'),
      el('td', {}, el('button', {class: 'unblock', dataset: {address: b.address}, onclick: () => unblock(b.address)}, 'unblock'))));
  }
  if (!r.blocks.length) body.append(el('tr', {}, el('td', {colspan: 7, class: 'muted'}, 'no blocked addresses')));
  if (state.autoUnblock) {
    const b = body.querySelector(`button.unblock[data-address="${CSS.escape(state.autoUnblock)}"]`);
    state.autoUnblock = null;
    if (b) b.click(); else message('deep link: no block for that address', 'error');
  }
}

async function unblock(address) {
  if (await action('/api/unblock', {address}, 'unblock ' + address)) await loadBlocks();
  document.body.dataset.lastAction = 'unblock ' + address;
}

async function loadModels() {
  try {
    const r = await api('/api/model');
    $('model-list').replaceChildren(...r.models.map((m) => el('li', {class: m.serving ? 'serving' : ''},
      `${m.serving ? '▶ ' : ''}${m.name} ${m.version} (${m.architecture}) `, el('span', {class: 'muted'}, m.path))));
  } catch (e) {
    $('model-list').replaceChildren(el('li', {class: 'muted'}, 'models: ' + e.message));
  }
}

// ---------------------------------------------------------------- wiring and polling
async function refresh(full) {
  try {
    await loadOverview();
    await Promise.all([loadCharts(), loadBlocks(), full ? loadModels() : null, state.beforeId === 0 ? loadEvents() : null]);
    document.body.dataset.loaded = 'yes';
  } catch (e) {
    message(e.message, 'error');
  }
}

function init() {
  // Deep link #token=...&unblock=ADDR: the token fills the field (then leaves the address bar); see
  // docs/console.md. The fragment never reaches the server or its logs.
  const frag = new URLSearchParams(location.hash.slice(1));
  if (frag.get('token')) { state.token = frag.get('token'); sessionStorage.setItem('flowguard-token', state.token); }
  if (frag.get('unblock')) state.autoUnblock = frag.get('unblock');
  if (frag.get('range') && [...$('range').options].some((o) => o.value === frag.get('range'))) $('range').value = frag.get('range');
  if (location.hash) history.replaceState(null, '', location.pathname);
  $('token').value = state.token;
  $('token').addEventListener('change', () => { state.token = $('token').value.trim(); sessionStorage.setItem('flowguard-token', state.token); });
  $('range').addEventListener('change', () => loadCharts().catch((e) => message(e.message, 'error')));
  $('filters').addEventListener('submit', (e) => { e.preventDefault(); resetPaging(); loadEvents(); });
  $('f-reset').addEventListener('click', () => { $('filters').reset(); resetPaging(); loadEvents(); });
  $('page-older').addEventListener('click', () => { state.pages.push(state.beforeId); state.beforeId = state.nextBeforeId; loadEvents(); });
  $('page-newest').addEventListener('click', () => { resetPaging(); loadEvents(); });
  $('block-form').addEventListener('submit', async (e) => {
    e.preventDefault();
    const body = {address: $('b-address').value.trim(), reason: $('b-reason').value.trim()};
    if ($('b-ttl').value) body.ttl_seconds = Number($('b-ttl').value);
    if (await action('/api/block', body, 'block ' + body.address)) { $('block-form').reset(); loadBlocks(); }
  });
  $('reload-form').addEventListener('submit', async (e) => {
    e.preventDefault();
    message('reloading the model (loads and warms up; may take a while)…');
    if (await action('/api/reload', {path: $('r-path').value.trim()}, 'reload')) { loadOverview(); loadModels(); }
  });
  refresh(true);
  // Short polling: 5 s while the page is visible, nothing while it is hidden.
  setInterval(() => { if (!document.hidden) refresh(false); }, 5000);
}

document.addEventListener('DOMContentLoaded', init);
