// The HareMQ web console: a login form, then Overview, Queues, Exchanges and Connections views
// over the management API (RabbitMQ 3.10's paths and JSON fields), polled every POLL_MS.
// No framework and no external fetches: the broker serves this file, console.css and index.html.
//
// Credentials stay in sessionStorage (gone with the tab) and go out as a Basic Authorization
// header on every API call; any 401 goes back to the login form. Tests find things by
// data-testid ("queue-<vhost>-<name>", "total-queues", ...) and cells by data-field.
'use strict';

const POLL_MS = 2000;
const HISTORY_MS = 5 * 60 * 1000; // what the chart shows
const CREDENTIALS_KEY = 'haremq.credentials';

const state = {
  tab: 'overview',
  admin: false,
  history: [], // {t, publish, deliver, messages}, oldest first
  timer: null,
  statusTimer: null,
  generation: 0, // bumped on log-in and log-out, so a poll of an old session stops itself
};

class Unauthorized extends Error {}

const $ = (id) => document.getElementById(id);
const byTestId = (id) => document.querySelector(`[data-testid="${id}"]`);
const enc = encodeURIComponent; // "/" (the default vhost) becomes %2F, as the API wants

// ---- API ------------------------------------------------------------------------------------

function basicCredentials(user, password) {
  // btoa takes Latin-1 only: encode as UTF-8 first, as curl and the RabbitMQ UI do.
  const bytes = new TextEncoder().encode(`${user}:${password}`);
  return btoa(String.fromCharCode(...bytes));
}

async function api(method, path, body) {
  const init = {
    method,
    // 'omit' keeps the browser from popping up its own login dialog on a 401 (Fetch spec,
    // HTTP-network-or-cache fetch): the console shows its own form instead.
    credentials: 'omit',
    headers: { Authorization: `Basic ${sessionStorage.getItem(CREDENTIALS_KEY) || ''}` },
  };
  if (body !== undefined) {
    init.headers['Content-Type'] = 'application/json';
    init.body = JSON.stringify(body);
  }
  const res = await fetch(`api/${path}`, init);
  if (res.status === 401) throw new Unauthorized('not authorised');
  const text = await res.text();
  if (!res.ok) {
    let reason = res.statusText;
    try { reason = JSON.parse(text).reason || reason; } catch { /* not JSON: keep the status text */ }
    throw new Error(`${method} /api/${path} failed: ${res.status} ${reason}`);
  }
  return text ? JSON.parse(text) : null;
}

// ---- Session --------------------------------------------------------------------------------

function isAdministrator(tags) {
  // RabbitMQ 3.10 sends a list (["administrator"]); older versions a comma-separated string.
  const list = Array.isArray(tags) ? tags : String(tags || '').split(/[\s,]+/);
  return list.includes('administrator');
}

function showLogin(message) {
  state.generation += 1;
  clearTimeout(state.timer);
  sessionStorage.removeItem(CREDENTIALS_KEY);
  $('app').hidden = true;
  $('logout').hidden = true;
  $('whoami').textContent = '';
  for (const tbody of document.querySelectorAll('tbody')) tbody.replaceChildren();
  setStatus('');
  $('login').hidden = false;
  $('login-error').textContent = message || '';
  $('login-error').hidden = !message;
  $('login-password').value = '';
  $(message ? 'login-password' : 'login-user').focus();
}

async function startSession() {
  let me;
  try {
    me = await api('GET', 'whoami');
  } catch (e) {
    showLogin(e instanceof Unauthorized ? 'Login failed: wrong user name or password.'
                                        : `Cannot reach the broker: ${e.message}`);
    return;
  }
  state.admin = isAdministrator(me.tags);
  state.history = [];
  document.body.classList.toggle('is-admin', state.admin);
  const tags = Array.isArray(me.tags) ? me.tags.join(', ') : me.tags;
  $('whoami').textContent = tags ? `${me.name} (${tags})` : me.name;
  $('login').hidden = true;
  $('logout').hidden = false;
  $('app').hidden = false;
  showTab(state.tab);
  state.generation += 1;
  poll(state.generation);
}

function handleError(e) {
  if (e instanceof Unauthorized) showLogin('Your credentials were refused: log in again.');
  else setStatus(e.message, 'error');
}

function setStatus(message, kind = 'info') {
  const status = $('status');
  clearTimeout(state.statusTimer);
  status.textContent = message || '';
  status.className = `status ${kind}`;
  status.hidden = !message;
  // A note of what was done fades; an error stays until a poll succeeds again.
  if (message && kind === 'info') state.statusTimer = setTimeout(setStatus, 6000, '');
}

// ---- Polling and tabs -----------------------------------------------------------------------

async function poll(generation) {
  try {
    const overview = await api('GET', 'overview');
    if (generation !== state.generation) return;
    renderOverview(overview);
    if (state.tab !== 'overview') await refreshTab(state.tab);
    if ($('status').classList.contains('error')) setStatus('');
  } catch (e) {
    if (generation !== state.generation) return;
    handleError(e);
  }
  if (generation === state.generation) state.timer = setTimeout(poll, POLL_MS, generation);
}

const views = {
  queues: { path: 'queues', render: renderQueues },
  exchanges: { path: 'exchanges', render: renderExchanges },
  connections: { path: 'connections', render: renderConnections },
};

async function refreshTab(tab) {
  const view = views[tab];
  if (view) view.render(await api('GET', view.path));
}

function showTab(tab) {
  state.tab = tab;
  for (const button of document.querySelectorAll('[data-tab]')) {
    button.setAttribute('aria-selected', String(button.dataset.tab === tab));
  }
  for (const name of ['overview', ...Object.keys(views)]) $(`panel-${name}`).hidden = name !== tab;
  if (tab === 'overview') drawChart();
  else refreshTab(tab).catch(handleError);
}

// ---- Formatting -----------------------------------------------------------------------------

const count = (v) => (typeof v === 'number' ? String(v) : '–');
const yesNo = (v) => (v ? 'yes' : 'no');
const rateOf = (stats, name) => stats?.[`${name}_details`]?.rate ?? 0;

function compact(v) {
  if (v >= 1e6) return `${Number((v / 1e6).toPrecision(3))}M`;
  if (v >= 1e4) return `${Number((v / 1e3).toPrecision(3))}k`;
  return String(v);
}

function formatRate(v) {
  if (typeof v !== 'number') return '–';
  return v >= 100 ? String(Math.round(v)) : v.toFixed(1);
}

// ---- Overview and chart ---------------------------------------------------------------------

function renderOverview(o) {
  const version = o.product_version || o.rabbitmq_version || '';
  $('product').textContent = `${o.product_name || 'HareMQ'} ${version}`.trim();

  const totals = o.object_totals || {};
  for (const name of ['connections', 'channels', 'exchanges', 'queues', 'consumers']) {
    byTestId(`total-${name}`).textContent = count(totals[name] ?? 0);
  }
  const queued = o.queue_totals || {};
  byTestId('total-messages').textContent = count(queued.messages ?? 0);
  byTestId('total-messages-ready').textContent = count(queued.messages_ready ?? 0);
  byTestId('total-messages-unacked').textContent = count(queued.messages_unacknowledged ?? 0);

  const stats = o.message_stats || {};
  const sample = {
    t: Date.now(),
    publish: rateOf(stats, 'publish'),
    deliver: rateOf(stats, 'deliver_get'),
    messages: queued.messages ?? 0,
  };
  byTestId('rate-publish').textContent = formatRate(sample.publish);
  byTestId('rate-deliver').textContent = formatRate(sample.deliver);
  byTestId('rate-ack').textContent = formatRate(rateOf(stats, 'ack'));

  state.history.push(sample);
  while (state.history.length && state.history[0].t < sample.t - HISTORY_MS) state.history.shift();
  drawChart();
}

function axisFor(max) {
  // The next of 1, 2, 5 x 10^k at or above max, cut in steps that give round labels.
  const magnitude = 10 ** Math.floor(Math.log10(max));
  const [factor, steps] = [[1, 5], [2, 4], [5, 5], [10, 5]].find(([f]) => f * magnitude >= max);
  return { top: factor * magnitude, steps };
}

function drawChart() {
  const canvas = $('chart');
  const { width, height } = canvas.getBoundingClientRect();
  if (!width || !height) return; // hidden
  const ratio = window.devicePixelRatio || 1;
  canvas.width = Math.round(width * ratio);
  canvas.height = Math.round(height * ratio);
  const ctx = canvas.getContext('2d');
  ctx.setTransform(ratio, 0, 0, ratio, 0, 0);
  const css = getComputedStyle(document.documentElement);
  const color = (name) => css.getPropertyValue(name).trim();
  const now = Date.now();
  const half = height / 2;
  drawPane(ctx, { x: 0, y: 0, w: width, h: half }, now, color, 'Message rates (msg/s)',
           [{ key: 'publish', label: 'publish', color: color('--publish') },
            { key: 'deliver', label: 'deliver', color: color('--deliver') }]);
  drawPane(ctx, { x: 0, y: half, w: width, h: half }, now, color, 'Queued messages',
           [{ key: 'messages', label: 'messages', color: color('--queued') }]);
}

function drawPane(ctx, box, now, color, title, series) {
  const plot = { x: box.x + 56, y: box.y + 26, w: box.w - 72, h: box.h - 50 };
  const { top, steps } = axisFor(Math.max(1, ...state.history.flatMap((s) => series.map((c) => s[c.key]))));
  const xOf = (t) => plot.x + plot.w * (1 - (now - t) / HISTORY_MS);
  const yOf = (v) => plot.y + plot.h * (1 - v / top);

  ctx.font = '12px system-ui, sans-serif';
  ctx.textBaseline = 'middle';
  ctx.fillStyle = color('--text');
  ctx.textAlign = 'left';
  ctx.fillText(title, plot.x, box.y + 12);
  let legendX = plot.x + plot.w;
  ctx.textAlign = 'right';
  for (const s of [...series].reverse()) {
    ctx.fillStyle = s.color;
    ctx.fillText(s.label, legendX, box.y + 12);
    legendX -= ctx.measureText(s.label).width + 14;
    ctx.fillRect(legendX, box.y + 8, 9, 9);
    legendX -= 18;
  }

  ctx.strokeStyle = color('--grid');
  ctx.fillStyle = color('--muted');
  ctx.lineWidth = 1;
  for (let i = 0; i <= steps; i += 1) {
    const v = Number(((top * i) / steps).toPrecision(3));
    const y = Math.round(yOf(v)) + 0.5;
    ctx.beginPath();
    ctx.moveTo(plot.x, y);
    ctx.lineTo(plot.x + plot.w, y);
    ctx.stroke();
    ctx.fillText(compact(v), plot.x - 6, y);
  }
  ctx.textBaseline = 'top';
  ctx.textAlign = 'left';
  ctx.fillText(`${HISTORY_MS / 60000} min ago`, plot.x, plot.y + plot.h + 6);
  ctx.textAlign = 'right';
  ctx.fillText('now', plot.x + plot.w, plot.y + plot.h + 6);

  ctx.lineWidth = 2;
  ctx.lineJoin = 'round';
  for (const s of series) {
    ctx.strokeStyle = s.color;
    ctx.beginPath();
    state.history.forEach((sample, i) => {
      const [x, y] = [xOf(sample.t), yOf(sample[s.key])];
      if (i === 0) ctx.moveTo(x, y);
      else ctx.lineTo(x, y);
    });
    ctx.stroke();
  }
}

// ---- Tables ---------------------------------------------------------------------------------

// Updates rows in place, keyed by data-testid, so a row (and a button in it) is not replaced
// under the user's pointer on every poll. columns: [{field, value(item), num}].
function syncRows(tbody, items, keyOf, columns, actions) {
  const existing = new Map([...tbody.rows].map((row) => [row.dataset.testid, row]));
  items.forEach((item, index) => {
    const key = keyOf(item);
    let row = existing.get(key);
    existing.delete(key);
    if (!row) {
      row = document.createElement('tr');
      row.dataset.testid = key;
      for (const column of columns) {
        const cell = row.insertCell();
        cell.dataset.field = column.field;
        if (column.num) cell.className = 'num';
      }
      if (actions) row.insertCell().append(...actions(item));
    }
    columns.forEach((column, i) => {
      const text = column.value(item);
      if (row.cells[i].textContent !== text) row.cells[i].textContent = text;
    });
    if (tbody.rows[index] !== row) tbody.insertBefore(row, tbody.rows[index] || null);
  });
  for (const row of existing.values()) row.remove();
  tbody.closest('.panel').querySelector('.empty').hidden = items.length > 0;
}

const byVhostAndName = (a, b) => a.vhost.localeCompare(b.vhost) || a.name.localeCompare(b.name);

function renderQueues(queues) {
  syncRows($('queues-body'), queues.sort(byVhostAndName), (q) => `queue-${q.vhost}-${q.name}`, [
    { field: 'vhost', value: (q) => q.vhost },
    { field: 'name', value: (q) => q.name },
    { field: 'state', value: (q) => q.state || '' },
    { field: 'messages_ready', value: (q) => count(q.messages_ready), num: true },
    { field: 'messages_unacknowledged', value: (q) => count(q.messages_unacknowledged), num: true },
    { field: 'messages', value: (q) => count(q.messages), num: true },
    { field: 'consumers', value: (q) => count(q.consumers), num: true },
    { field: 'publish_rate', value: (q) => formatRate(q.message_stats?.publish_details?.rate), num: true },
    { field: 'deliver_rate', value: (q) => formatRate(q.message_stats?.deliver_get_details?.rate), num: true },
  ], state.admin ? queueActions : null);
}

function queueActions(q) {
  const path = `queues/${enc(q.vhost)}/${enc(q.name)}`;
  const where = `queue "${q.name}" in virtual host "${q.vhost}"`;
  return [
    actionButton('purge', 'Purge', `Purge all ready messages of ${where}?`,
                 () => api('DELETE', `${path}/contents`), `Purged ${where}.`),
    actionButton('delete', 'Delete', `Delete ${where} and its messages?`,
                 () => api('DELETE', path), `Deleted ${where}.`),
  ];
}

function actionButton(action, label, question, run, done) {
  const button = document.createElement('button');
  button.type = 'button';
  button.className = 'small danger';
  button.dataset.action = action;
  button.textContent = label;
  button.addEventListener('click', async () => {
    if (!(await confirmAction(question))) return;
    try {
      await run();
      setStatus(done);
      await refreshTab('queues');
    } catch (e) {
      handleError(e);
    }
  });
  return button;
}

function confirmAction(question) {
  const dialog = $('confirm');
  $('confirm-text').textContent = question;
  dialog.returnValue = '';
  dialog.showModal();
  return new Promise((resolve) => {
    dialog.addEventListener('close', () => resolve(dialog.returnValue === 'ok'), { once: true });
  });
}

function renderExchanges(exchanges) {
  syncRows($('exchanges-body'), exchanges.sort(byVhostAndName), (x) => `exchange-${x.vhost}-${x.name}`, [
    { field: 'vhost', value: (x) => x.vhost },
    { field: 'name', value: (x) => x.name || '(AMQP default)' },
    { field: 'type', value: (x) => x.type },
    { field: 'durable', value: (x) => yesNo(x.durable) },
    { field: 'auto_delete', value: (x) => yesNo(x.auto_delete) },
    { field: 'internal', value: (x) => yesNo(x.internal) },
  ]);
}

function renderConnections(connections) {
  syncRows($('connections-body'), connections.sort((a, b) => a.name.localeCompare(b.name)),
           (c) => `connection-${c.name}`, [
    { field: 'name', value: (c) => c.name },
    { field: 'user', value: (c) => c.user ?? '' },
    { field: 'vhost', value: (c) => c.vhost ?? '' },
    { field: 'peer', value: (c) => (c.peer_host ? `${c.peer_host}:${c.peer_port}` : '') },
    { field: 'channels', value: (c) => count(c.channels), num: true },
    { field: 'state', value: (c) => c.state ?? '' },
  ]);
}

// ---- Start-up -------------------------------------------------------------------------------

document.addEventListener('DOMContentLoaded', () => {
  $('login-form').addEventListener('submit', (event) => {
    event.preventDefault();
    sessionStorage.setItem(CREDENTIALS_KEY, basicCredentials($('login-user').value, $('login-password').value));
    startSession();
  });
  $('logout').addEventListener('click', () => showLogin(''));
  for (const button of document.querySelectorAll('[data-tab]')) {
    button.addEventListener('click', () => showTab(button.dataset.tab));
  }
  window.addEventListener('resize', () => { if (state.tab === 'overview') drawChart(); });

  if (sessionStorage.getItem(CREDENTIALS_KEY)) startSession();
  else showLogin('');
});
