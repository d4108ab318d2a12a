/* global document, window, URLSearchParams, sessionStorage, TextDecoderStream, Blob */
// The Mailroom dashboard: plain browser JavaScript, served by the runtime (no CDN, no build).
// Data from the runtime is always written with textContent, never as HTML: subjects,
// domains and reasons come from senders.
//
// The admin token: asked for once when the runtime answers 401, kept in this tab's
// sessionStorage, sent as an Authorization header on every fetch (the live stream too: it is
// read with fetch, since EventSource cannot send headers). Never in a URL, so never in a log.

const $ = (id) => document.getElementById(id);
const el = (tag, props = {}, ...children) => {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(props)) {
    if (key === 'class') node.className = value;
    else if (key === 'text') node.textContent = value;
    else if (key === 'title') node.title = value;
    else node.setAttribute(key, value);
  }
  for (const child of children) if (child !== undefined && child !== null) node.append(child);
  return node;
};
const time = (iso) => (iso ? new Date(iso).toLocaleTimeString([], { hour12: false }) : '');

const TOKEN_KEY = 'mailroom.adminToken';
const token = () => sessionStorage.getItem(TOKEN_KEY);
const withToken = (init = {}) => (token() ? { ...init, headers: { ...init.headers, authorization: `Bearer ${token()}` } } : init);

let tokenWanted;
/** Shows the token form (once, however many fetches were refused); resolves when a token was entered. */
function askToken(detail) {
  if (tokenWanted) return tokenWanted;
  const form = $('token-form');
  $('token-note').textContent = detail ? `The runtime says: ${detail}` : '';
  form.hidden = false;
  $('token-input').focus();
  tokenWanted = new Promise((resolve) => {
    form.addEventListener(
      'submit',
      (event) => {
        event.preventDefault();
        sessionStorage.setItem(TOKEN_KEY, $('token-input').value.trim());
        $('token-input').value = '';
        form.hidden = true;
        tokenWanted = undefined;
        resolve();
      },
      { once: true },
    );
  });
  return tokenWanted;
}

async function getJson(url, init) {
  const res = await fetch(url, withToken(init));
  if (res.status === 401) {
    const detail = (await res.json().catch(() => undefined))?.detail;
    void askToken(detail);
    const error = new Error(detail ?? 'the runtime wants an admin token');
    error.status = 401;
    throw error;
  }
  let body;
  try {
    body = await res.json();
  } catch {
    body = undefined;
  }
  if (!res.ok) {
    const error = new Error(body?.detail ?? `${res.status} ${res.statusText}`);
    error.status = res.status;
    throw error;
  }
  return body;
}

const view = { config: undefined, state: undefined, stats: undefined, search: undefined, workflows: undefined, selectedWorkflow: undefined };

function drawMachines() {
  const panel = $('machines');
  for (const machine of view.config.machines) {
    const box = el('div', { class: machine.counted ? 'machine' : 'machine uncounted', 'data-machine': machine.id });
    box.append(el('h3', { text: `${machine.id} — ${machine.description}` }));
    if (!machine.counted) box.append(el('p', { class: 'hint', text: 'No live counts: the runtime does not report this machine\'s transitions yet. Look one up with the search (give the sender).' }));
    const figure = el('div');
    figure.innerHTML = machine.svg; // drawn by the runtime from the machine definition, escaped there
    box.append(figure);
    panel.append(box);
  }
}

function countFor(machine, state) {
  const counts = view.state?.counts?.[machine.id];
  if (machine.finalStates.includes(state)) return counts?.finished?.[state] ?? 0;
  if (machine.id === 'envelope' && state === 'queued') return view.stats?.inbox?.waiting ?? 0;
  return counts?.inFlight?.[state] ?? 0;
}

function renderCounts() {
  if (!view.config) return;
  for (const machine of view.config.machines.filter((m) => m.counted)) {
    for (const node of document.querySelectorAll(`.machine[data-machine="${machine.id}"] g.state`)) {
      const state = node.dataset.state;
      const count = countFor(machine, state);
      const label = node.querySelector('text.count');
      if (label.textContent !== String(count)) {
        label.textContent = String(count);
        node.classList.add('flash');
        setTimeout(() => node.classList.remove('flash'), 400);
      }
      const final = machine.finalStates.includes(state);
      node.classList.toggle('busy', !final && count > 0);
      node.classList.toggle('reached', final && count > 0);
      node.classList.toggle('bad', state === 'deadLettered');
    }
  }
}

function historyCell(history) {
  const cell = el('td', { class: 'history' });
  for (const step of history ?? []) cell.append(el('span', { class: 'step', text: step.state, title: step.at }));
  return cell;
}

function envelopeRow(envelope, highlighted) {
  const why = envelope.discard
    ? `${envelope.discard.reason}: ${envelope.discard.detail}`
    : envelope.deadLetter
      ? `${envelope.deadLetter.reason}: ${envelope.deadLetter.detail}`
      : undefined;
  const row = el(
    'tr',
    { class: highlighted ? 'match' : '', 'data-correlation': envelope.correlation, 'data-state': envelope.state },
    el('td', { class: 'mono', text: time(envelope.updatedAt), title: envelope.updatedAt }),
    el('td', {}, el('span', { class: `pill ${envelope.state}`, text: envelope.state }), envelope.attempt > 1 ? el('span', { class: 'why', text: ` #${envelope.attempt}` }) : undefined),
    el('td', { class: 'route', text: `${envelope.from} → ${envelope.to}` }),
    el('td', { class: 'subject', text: envelope.subject }),
    el('td', { class: 'mono corr', text: envelope.correlation, title: envelope.correlation }),
    historyCell(envelope.history),
  );
  if (why) row.lastChild.append(el('div', { class: 'why', text: why }));
  return row;
}

function renderEnvelopes() {
  const body = $('envelopes');
  const list = view.search ? view.search.envelopes : (view.state?.recent ?? []);
  body.replaceChildren(...list.map((e) => envelopeRow(e, Boolean(view.search))));
  $('envelopes-empty').hidden = list.length > 0;
  $('envelopes-empty').textContent = view.search ? 'Nothing found.' : 'No envelopes yet.';
}

function renderStats() {
  const s = view.stats;
  if (!s) return;
  const set = (id, value) => {
    $(id).textContent = String(value);
    $(id).classList.toggle('nonzero', value > 0);
  };
  set('stat-inbox-waiting', s.inbox.waiting);
  set('stat-inbox-inflight', s.inbox.inFlight);
  set('stat-outbox-waiting', s.outbox.waiting);
  set('stat-redelivered', s.inbox.redelivered + s.outbox.redelivered);
  set('stat-actors', s.actors);
  set('stat-dead-letters', s.deadLetters);
}

async function refreshStats() {
  try {
    view.stats = await getJson('/stats');
    renderStats();
    renderCounts();
  } catch {
    // The next poll tries again; the live badge shows the connection.
  }
}

async function refreshDeadLetters() {
  let letters;
  try {
    letters = (await getJson('/dead-letters?limit=50')).deadLetters;
  } catch (error) {
    $('dead-letters-note').textContent = `cannot list dead letters: ${error.message}`;
    return;
  }
  const rows = letters.map((letter) => {
    const e = letter.envelope ?? {};
    const button = el('button', { type: 'button', class: 'replay', 'data-id': String(letter.id), text: 'Replay' });
    button.addEventListener('click', () => replay(letter.id, button));
    return el(
      'tr',
      { 'data-id': String(letter.id) },
      el('td', { class: 'mono', text: String(letter.id), title: letter.deadLetteredAt }),
      el('td', {}, el('span', { class: 'pill deadLettered', text: letter.reason }), el('div', { class: 'why', text: `in ${letter.lastState}: ${letter.detail}` })),
      el('td', {}, el('div', { text: `${e.from ?? '?'} → ${e.to ?? '?'} ${e.subject ?? '?'}` }), el('div', { class: 'mono', text: e.correlation ?? '' })),
      el('td', { text: String(letter.attempts) }),
      el('td', {}, button),
    );
  });
  $('dead-letters').replaceChildren(...rows);
  $('dead-letters-empty').hidden = rows.length > 0;
}

async function replay(id, button) {
  button.disabled = true;
  try {
    const result = await getJson(`/dead-letters/${id}/replay`, { method: 'POST' });
    $('dead-letters-note').textContent = `Dead letter ${id} replayed: back on ${result.subject} (sequence ${result.sequence}), through a fresh actor.`;
  } catch (error) {
    $('dead-letters-note').textContent = `Replay of ${id} failed: ${error.message}`;
    button.disabled = false;
  }
  await refreshDeadLetters();
  await refreshStats();
}

// A state value as dotted paths: {"payment":"waiting"} → payment.waiting (parallel regions joined by commas).
const statePaths = (value, prefix = '') =>
  typeof value === 'string'
    ? [`${prefix}${value}`]
    : Object.entries(value ?? {}).flatMap(([key, child]) => (child && typeof child === 'object' && !Object.keys(child).length ? [`${prefix}${key}`] : statePaths(child, `${prefix}${key}.`)));
const stateText = (state) => statePaths(state).join(', ');

function waitingOn(workflow) {
  const parts = [];
  for (const activity of workflow.activities ?? []) parts.push(`${activity.kind} ${activity.src}`);
  for (const timer of workflow.timers ?? []) {
    const seconds = Math.max(0, Math.round((timer.due - Date.now()) / 1000));
    parts.push(`timer ${timer.event} (in ${seconds}s)`);
  }
  return parts.join(', ');
}

function workflowQuery() {
  const params = new URLSearchParams({ limit: '50' });
  const status = $('workflow-status').value;
  const name = $('workflow-name').value.trim();
  const state = $('workflow-state').value.trim();
  if (status) params.set('status', status);
  if (name) params.set('name', name);
  if (state) params.set('state', state);
  return `/workflows?${params}`;
}

async function refreshWorkflows() {
  let list;
  try {
    list = await getJson(workflowQuery());
  } catch (error) {
    $('workflows-note').textContent = `cannot list workflows: ${error.message}`;
    return;
  }
  view.workflows = list.workflows;
  const rows = list.workflows.map((workflow) => {
    const why = workflow.parked ? `parked: ${workflow.parked.reason}` : workflow.error ? `${workflow.error.name}: ${workflow.error.message}` : undefined;
    const row = el(
      'tr',
      { class: workflow.id === view.selectedWorkflow ? 'selected' : '', 'data-workflow': workflow.id, 'data-status': workflow.status },
      el('td', { class: 'mono', text: time(workflow.updatedAt), title: new Date(workflow.updatedAt).toISOString() }),
      el('td', { class: 'mono corr', text: workflow.id, title: workflow.id }),
      el('td', { text: workflow.name, title: `version ${workflow.version}` }),
      el('td', { class: 'mono wf-state', text: stateText(workflow.state) }),
      el('td', {}, el('span', { class: `pill wf-${workflow.status}`, text: workflow.status }), why ? el('div', { class: 'why', text: why }) : undefined),
      el('td', { class: 'mono', text: workflow.lastEvent ?? '' }),
      el('td', { text: waitingOn(workflow) }),
    );
    row.addEventListener('click', () => void showWorkflow(workflow.id));
    return row;
  });
  $('workflows').replaceChildren(...rows);
  $('workflows-empty').hidden = rows.length > 0;
  $('workflows-note').textContent = list.total > list.workflows.length ? `${list.workflows.length} of ${list.total} shown.` : '';
  if (view.selectedWorkflow) await showWorkflow(view.selectedWorkflow, true);
}

async function showWorkflow(id, quiet) {
  view.selectedWorkflow = id;
  for (const row of document.querySelectorAll('#workflows tr')) row.classList.toggle('selected', row.dataset.workflow === id);
  let workflow;
  try {
    workflow = await getJson(`/workflows/${encodeURIComponent(id)}`);
  } catch (error) {
    if (!quiet) $('workflows-note').textContent = `cannot read workflow ${id}: ${error.message}`;
    return;
  }
  $('workflow-detail').hidden = false;
  $('workflow-detail-title').textContent = `${workflow.id} — ${workflow.name}@${workflow.version}, ${workflow.status} in ${stateText(workflow.state)} (step ${workflow.seq})`;
  const path = $('workflow-detail-path');
  path.replaceChildren(...workflow.history.map((step) => el('span', { class: 'step', text: stateText(step.state), title: `#${step.seq} ${step.event}` })));
  const shown = { context: workflow.context, ...(workflow.output !== undefined ? { output: workflow.output } : {}), ...(workflow.error ? { error: workflow.error } : {}) };
  $('workflow-detail-context').textContent = JSON.stringify(shown, null, 2);
}

function wireWorkflows() {
  $('workflow-filter').addEventListener('submit', (event) => {
    event.preventDefault();
    void refreshWorkflows();
  });
  $('workflow-status').addEventListener('change', () => void refreshWorkflows());
}

async function search(correlation, from) {
  const found = (await getJson(`/dashboard/api/envelopes?correlation=${encodeURIComponent(correlation)}`)).envelopes;
  let note = `${found.length} found among the recent envelopes of this process.`;
  if (from && !found.some((e) => e.from === from)) {
    try {
      const status = await getJson(`/envelopes/${encodeURIComponent(from)}/${encodeURIComponent(correlation)}`);
      found.unshift({ ...status, attempt: status.attempt ?? 1 });
      note = `Found in the status store (${status.state}).`;
    } catch (error) {
      note = error.status === 404 ? `No envelope from ${from} with this correlation.` : `Status lookup failed: ${error.message}`;
    }
  } else if (!found.length && !from) {
    note = 'Not among the recent envelopes of this process; give the sender to look it up in the status store.';
  }
  if (from) {
    try {
      const conversation = await getJson(`/conversations/${encodeURIComponent(from)}/${encodeURIComponent(correlation)}`);
      note += ` Conversation: ${conversation.state} (${from} asked ${conversation.context.to} ${conversation.context.subject}).`;
    } catch {
      // Not a request this runtime sent: no conversation.
    }
  }
  view.search = { envelopes: found };
  $('search-note').textContent = note;
  $('search-note').hidden = false;
  $('search-clear').hidden = false;
  renderEnvelopes();
}

function wireSearch() {
  $('search').addEventListener('submit', (event) => {
    event.preventDefault();
    const correlation = $('search-correlation').value.trim();
    const from = $('search-from').value.trim();
    if (correlation) void search(correlation, from || undefined);
  });
  $('search-clear').addEventListener('click', () => {
    view.search = undefined;
    $('search-note').hidden = true;
    $('search-clear').hidden = true;
    $('search-correlation').value = '';
    $('search-from').value = '';
    renderEnvelopes();
  });
}

function onState(state) {
  view.state = state;
  renderCounts();
  renderEnvelopes();
}

function live() {
  const badge = $('live');
  const mark = (on) => {
    badge.textContent = on ? 'live' : 'reconnecting…';
    badge.className = `live ${on ? 'on' : 'off'}`;
  };
  if (typeof TextDecoderStream === 'undefined') {
    const poll = async () => {
      try {
        onState(await getJson('/dashboard/api/state'));
        mark(true);
      } catch {
        mark(false);
      }
    };
    void poll();
    setInterval(poll, 2000);
    return;
  }
  void stream(mark);
}

/** The Server-Sent Events of /dashboard/api/stream, read with fetch (headers allowed), reconnecting. */
async function stream(mark) {
  for (;;) {
    try {
      const res = await fetch('/dashboard/api/stream', withToken());
      if (res.status === 401) await askToken((await res.json().catch(() => undefined))?.detail);
      else if (res.ok && res.body) {
        mark(true);
        const reader = res.body.pipeThrough(new TextDecoderStream()).getReader();
        let buffer = '';
        for (;;) {
          const { value, done } = await reader.read();
          if (done) break;
          buffer += value;
          let cut;
          while ((cut = buffer.indexOf('\n\n')) >= 0) {
            const lines = buffer.slice(0, cut).split('\n');
            buffer = buffer.slice(cut + 2);
            const event = lines.find((line) => line.startsWith('event:'))?.slice(6).trim();
            const data = lines.filter((line) => line.startsWith('data:')).map((line) => line.slice(5).replace(/^ /, '')).join('\n');
            if (event === 'state' && data) onState(JSON.parse(data));
          }
        }
      }
    } catch {
      // The connection dropped: try again below.
    }
    mark(false);
    await new Promise((resolve) => setTimeout(resolve, 2000));
  }
}

/** /metrics needs the token too: fetched here, shown as text in a new tab. */
function wireMetricsLink() {
  $('metrics-link').addEventListener('click', async (event) => {
    event.preventDefault();
    const res = await fetch('/metrics', withToken());
    if (res.status === 401) return void askToken((await res.json().catch(() => undefined))?.detail);
    const url = URL.createObjectURL(new Blob([await res.text()], { type: 'text/plain' }));
    window.open(url, '_blank', 'noopener');
  });
}

async function main() {
  for (;;) {
    try {
      view.config = await getJson('/dashboard/api/config');
      break;
    } catch (error) {
      if (error.status !== 401) throw error;
      await askToken(error.message);
    }
  }
  wireMetricsLink();
  if (view.config.inspect) {
    $('inspect-link').href = view.config.inspect;
    $('inspect-link').hidden = false;
  }
  drawMachines();
  wireSearch();
  wireWorkflows();
  live();
  const params = new URLSearchParams(window.location.search);
  const every = Number(params.get('refresh')) || 2000;
  void refreshStats();
  void refreshDeadLetters();
  void refreshWorkflows();
  setInterval(refreshStats, every);
  setInterval(refreshWorkflows, every);
  setInterval(refreshDeadLetters, every * 2);
}

void main();
