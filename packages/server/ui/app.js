// The cluster page: polls the node that served it (JSON-RPC on POST to this page's directory, so it works behind
// TLS and under a path prefix alike) and draws what `cluster_status` answers. No framework, no build step.
import { colourOf, drawRing } from './ring.js';

const POLL_MS = 1_000;
const TOKEN_KEY = 'kvdb-token';

const $ = (id) => document.getElementById(id);
const state = {
  /** The last reading of each member's counters, for rates: address → { uptimeMs, requests }. */
  readings: new Map(),
  /** The replicas of the key looked up, highlighted on the ring and in the table. */
  highlighted: new Set(),
  status: undefined,
  /** Each member's rates over the last two readings: address → { perSecond, errorsPerSecond, meanMs }. */
  rates: new Map(),
  timer: undefined,
  /** Bumped at each poll started: an answer to an older one is dropped. */
  generation: 0,
};

class Unauthorized extends Error {}

/** Calls a method of the node; rejects with `Unauthorized` on 401, else with the JSON-RPC error's message. */
async function call(method, params = {}) {
  const headers = { 'content-type': 'application/json' };
  const token = sessionStorage.getItem(TOKEN_KEY);
  if (token) headers.authorization = `Bearer ${token}`;
  const body = JSON.stringify({ jsonrpc: '2.0', id: 1, method, params });
  const response = await fetch('.', { method: 'POST', headers, body, cache: 'no-store' });
  if (response.status === 401) throw new Unauthorized('the node asks for its token');
  const reply = await response.json();
  if (reply.error) throw new Error(reply.error.message);
  return reply.result;
}

function el(name, text, attributes = {}) {
  const node = document.createElement(name);
  if (text !== undefined) node.textContent = text;
  for (const [key, value] of Object.entries(attributes)) node.setAttribute(key, String(value));
  return node;
}

function setConnection(kind, text) {
  const connection = $('connection');
  connection.className = `connection ${kind}`;
  connection.textContent = text;
}

async function poll() {
  clearTimeout(state.timer);
  const generation = ++state.generation;
  try {
    const status = await call('cluster_status');
    if (generation !== state.generation) return;
    state.rates = new Map(status.members.map((member) => [member.address, rates(member)]));
    render(status);
    setConnection('live', `live · ${new Date(status.at).toLocaleTimeString()}`);
  } catch (error) {
    if (generation !== state.generation) return;
    if (error instanceof Unauthorized) {
      askForToken(sessionStorage.getItem(TOKEN_KEY) ? 'The node refused that token.' : undefined);
      return; // polling resumes once a token is given
    }
    setConnection('error', `not reachable: ${error.message}`);
  }
  state.timer = setTimeout(poll, POLL_MS);
}

function askForToken(message) {
  sessionStorage.removeItem(TOKEN_KEY);
  $('dashboard').hidden = true;
  $('forget-token').hidden = true;
  $('token-form').hidden = false;
  $('token-error').hidden = message === undefined;
  $('token-error').textContent = message ?? '';
  setConnection('locked', 'token needed');
  $('token').focus();
}

function render(status) {
  state.status = status;
  $('token-form').hidden = true;
  $('dashboard').hidden = false;
  $('forget-token').hidden = !sessionStorage.getItem(TOKEN_KEY);
  $('self').textContent = `served by ${status.self}`;
  const { replicas, target } = status.replication;
  const alive = status.members.filter((member) => member.status === 'alive').length;
  const change = target === undefined ? '' : ` → ${target}`;
  $('summary').textContent =
    `${status.members.length} members, ${alive} alive · replication ${replicas}${change}`;
  renderMembers(status.members);
  drawRing($('ring'), status, state.highlighted);
  renderLegend(status.members);
  renderEvents(status.events);
  document.body.dataset.updated = String(status.at);
}

/** Requests and errors a second and mean latency since the member's last reading, or undefined before two. */
function rates(member) {
  const now = member.stats;
  if (now?.requests === undefined) return undefined;
  const before = state.readings.get(member.address);
  state.readings.set(member.address, { uptimeMs: now.uptimeMs, requests: now.requests });
  if (before === undefined) return undefined;
  const seconds = (now.uptimeMs - before.uptimeMs) / 1_000;
  const requests = now.requests.total - before.requests.total;
  if (seconds <= 0 || requests < 0) return undefined; // the member restarted: start again
  return {
    perSecond: requests / seconds,
    errorsPerSecond: (now.requests.errors - before.requests.errors) / seconds,
    meanMs: requests === 0 ? undefined : (now.requests.totalMs - before.requests.totalMs) / requests,
  };
}

function renderMembers(members) {
  const rows = members.map((member, index) => {
    const row = el('tr', undefined, { 'data-address': member.address, 'data-status': member.status });
    if (state.highlighted.has(member.address)) row.classList.add('highlighted');
    const name = el('td', undefined, { class: 'address' });
    name.append(swatch(index), member.address);
    if (member.address === state.status?.self) name.append(el('span', ' (this node)', { class: 'note' }));
    const rate = state.rates.get(member.address);
    const stats = member.stats;
    row.append(
      name,
      el('td', member.status, { class: `status status-${member.status}` }),
      el('td', member.phase ?? '—', { class: 'phase' }),
      el('td', `${(member.share * 100).toFixed(1)}%`, { class: 'share number' }),
      el('td', stats ? String(stats.keys) : '—', { class: 'keys number' }),
      el('td', rate ? rate.perSecond.toFixed(1) : '—', { class: 'rate number' }),
      el('td', rate?.meanMs === undefined ? '—' : `${rate.meanMs.toFixed(2)} ms`, {
        class: 'latency number',
      }),
      el('td', rate ? rate.errorsPerSecond.toFixed(1) : '—', { class: 'errors number' }),
    );
    return row;
  });
  $('members').tBodies[0].replaceChildren(...rows);
}

/** A member's colour chip; set through the CSSOM, which the page's policy allows (style attributes it does not). */
function swatch(index) {
  const chip = el('span', '', { class: 'swatch' });
  chip.style.backgroundColor = colourOf(index);
  return chip;
}

function renderLegend(members) {
  const items = members
    .map((member, index) => ({ member, index }))
    .filter(({ member }) => member.share > 0)
    .map(({ member, index }) => {
      const item = el('li', undefined, { 'data-address': member.address });
      item.append(swatch(index), `${member.address} ${(member.share * 100).toFixed(1)}%`);
      return item;
    });
  $('legend').replaceChildren(...items);
}

function renderEvents(events) {
  const items = [...events].reverse().map((event) => {
    const item = el('li', undefined, { 'data-kind': event.kind });
    item.append(
      el('time', new Date(event.at).toLocaleTimeString(), { datetime: new Date(event.at).toISOString() }),
    );
    item.append(el('span', event.message));
    return item;
  });
  $('events').replaceChildren(...(items.length > 0 ? items : [el('li', 'nothing yet', { class: 'note' })]));
}

async function lookup(key) {
  $('lookup-error').hidden = true;
  try {
    const replicas = await call('locate', { key });
    state.highlighted = new Set(replicas);
    $('lookup-result').hidden = false;
    $('lookup-result').textContent =
      `${JSON.stringify(key)} is kept by ${replicas.length} replica(s), primary first:`;
    $('replicas').replaceChildren(
      ...replicas.map((address, index) =>
        el('li', `${address}${index === 0 ? ' (primary)' : ''}`, { 'data-address': address }),
      ),
    );
    if (state.status !== undefined) render(state.status);
  } catch (error) {
    if (error instanceof Unauthorized) return askForToken();
    state.highlighted = new Set();
    $('replicas').replaceChildren();
    $('lookup-result').hidden = true;
    $('lookup-error').hidden = false;
    $('lookup-error').textContent = error.message;
  }
}

$('token-form').addEventListener('submit', (event) => {
  event.preventDefault();
  sessionStorage.setItem(TOKEN_KEY, $('token').value);
  $('token').value = '';
  $('token-form').hidden = true;
  setConnection('', 'connecting…');
  void poll();
});

$('forget-token').addEventListener('click', () => {
  clearTimeout(state.timer);
  state.generation += 1;
  askForToken();
});

$('lookup').addEventListener('submit', (event) => {
  event.preventDefault();
  void lookup($('lookup-key').value);
});

void poll();
