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
/** A row that opens an envelope's detail: by click, or from the keyboard (Tab, then Enter). */
function opensDetail(row, from, correlation) {
  row.tabIndex = 0;
  row.addEventListener('click', () => void showEnvelope(from, correlation));
  row.addEventListener('keydown', (event) => {
    if (event.key === 'Enter' && event.target === row) void showEnvelope(from, correlation);
  });
}
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
  row.classList.add('clickable');
  opensDetail(row, envelope.from, envelope.correlation);
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

// ---- Dead letters: the whole store, filtered, grouped by reason, bulk actions behind a confirmation.

const dlq = { cursor: '', next: undefined, groups: undefined, groupsAt: 0, filter: {} };
const stamp = (iso) => (iso ? new Date(iso).toLocaleString([], { hour12: false, month: 'short', day: 'numeric', hour: '2-digit', minute: '2-digit', second: '2-digit' }) : '');
const ago = (iso) => {
  const s = Math.max(0, Math.round((Date.now() - Date.parse(iso)) / 1000));
  return s < 90 ? `${s}s ago` : s < 5400 ? `${Math.round(s / 60)}m ago` : s < 129600 ? `${Math.round(s / 3600)}h ago` : `${Math.round(s / 86400)}d ago`;
};
const queueText = (queue) => (queue === 'outbox' ? 'the outbox (delivered again)' : 'the inbox (handled again)');

function formFilter(prefix, fields) {
  const filter = {};
  for (const field of fields) {
    const value = $(`${prefix}-${field}`).value.trim();
    if (value) filter[field] = value;
  }
  // A local date and time from the picker, sent as an ISO instant.
  const until = $(`${prefix}-until`).value;
  if (until && !Number.isNaN(Date.parse(until))) filter.until = new Date(until).toISOString();
  return filter;
}
const queryOf = (filter, extra = {}) => new URLSearchParams({ ...filter, ...extra }).toString();
const filterText = (filter) =>
  Object.entries(filter)
    .map(([k, v]) => (k === 'since' ? `last ${v}` : k === 'until' ? `until ${stamp(v)}` : `${k} “${v}”`))
    .join(', ') || 'no filter';

function scanNote(page, what) {
  return page.capped ? `The search read ${page.scanned} stored ${what} (the cap for one page) without filling the page: narrow the filter, or press Older to read on.` : '';
}

/** The page, and (at most every 30 s when polled: counting reads the whole filtered set) the counts by reason. */
async function refreshDeadLetters(polled) {
  let page;
  let groups;
  const count = !polled || Date.now() - dlq.groupsAt > 30_000;
  try {
    [page, groups] = await Promise.all([
      getJson(`/dead-letters?${queryOf(dlq.filter, { limit: '50', ...(dlq.cursor ? { cursor: dlq.cursor } : {}) })}`),
      count ? getJson(`/dead-letters/groups?${queryOf(dlq.filter)}`) : dlq.groups,
    ]);
  } catch (error) {
    $('dead-letters-note').textContent = `Cannot list dead letters: ${error.message}`;
    return;
  }
  dlq.next = page.next;
  if (count) {
    dlq.groups = groups;
    dlq.groupsAt = Date.now();
    renderDlqGroups(groups);
  }
  const rows = page.deadLetters.map((letter) => {
    const e = letter.envelope ?? {};
    const button = el('button', { type: 'button', class: 'replay', 'data-id': String(letter.id), text: 'Replay' });
    button.addEventListener('click', (event) => {
      event.stopPropagation();
      void replayOne(letter, button);
    });
    const row = el(
      'tr',
      { 'data-id': String(letter.id), 'data-correlation': e.correlation ?? '', class: 'clickable' },
      el('td', { class: 'mono when', text: stamp(letter.deadLetteredAt), title: `${letter.deadLetteredAt} (${ago(letter.deadLetteredAt)}), id ${letter.id}` }),
      el('td', {}, el('span', { class: 'pill deadLettered', text: letter.reason }), el('div', { class: 'why', text: `in ${letter.lastState}${letter.lastReason ? ` (${letter.lastReason})` : ''}: ${letter.detail}` })),
      el('td', {}, el('div', { text: `${e.from ?? '?'} → ${e.to ?? '?'} ${e.subject ?? '?'}` }), el('div', { class: 'mono corr', text: e.correlation ?? '', title: e.correlation ?? '' })),
      el('td', { text: String(letter.attempts), title: `replay puts it back in ${queueText(letter.queue)}` }),
      el('td', {}, button),
    );
    if (e.from && e.correlation) opensDetail(row, e.from, e.correlation);
    return row;
  });
  $('dead-letters').replaceChildren(...rows);
  const filtered = Object.keys(dlq.filter).length > 0;
  $('dead-letters-empty').hidden = rows.length > 0;
  $('dead-letters-empty').textContent = filtered ? 'No dead letters match.' : 'No dead letters.';
  $('dlq-more').hidden = !page.next;
  $('dlq-first').hidden = !dlq.cursor;
  $('dlq-count').dataset.cap = scanNote(page, 'dead letters');
  renderDlqCount();
}

function renderDlqGroups(groups) {
  const chips = groups.groups.map((group) => {
    const chip = el('button', { type: 'button', class: `chip${dlq.filter.reason === group.reason ? ' on' : ''}`, 'data-reason': group.reason, title: `oldest ${group.oldest}, newest ${group.newest}` });
    chip.append(el('span', { text: group.reason }), el('span', { class: 'n', text: String(group.count) }));
    chip.addEventListener('click', () => {
      $('dlq-reason').value = dlq.filter.reason === group.reason ? '' : group.reason;
      applyDlqFilter();
    });
    return chip;
  });
  $('dlq-groups').replaceChildren(...chips);
  $('dlq-reasons').replaceChildren(...groups.groups.map((g) => el('option', { value: g.reason })));
}

function renderDlqCount() {
  const g = dlq.groups;
  const n = g?.total ?? 0;
  const more = g?.capped ? '+' : '';
  $('dlq-replay-all').textContent = `Replay all ${n}${more}…`;
  $('dlq-purge-all').textContent = `Purge all ${n}${more}…`;
  $('dlq-replay-all').disabled = n === 0;
  $('dlq-purge-all').disabled = n === 0;
  const capNote = g?.capped ? ` Counting stopped after ${g.scanned} stored dead letters; a bulk action takes the matches it finds up to that cap, and says if more are left.` : '';
  const matches = n === 0 ? 'None match' : n === 1 ? '1 matches' : `${n}${more} match`;
  $('dlq-count').textContent = `${matches} (${filterText(dlq.filter)}).${capNote} ${$('dlq-count').dataset.cap ?? ''}`.trim();
}

function applyDlqFilter() {
  dlq.filter = formFilter('dlq', ['reason', 'subject', 'from', 'since']);
  dlq.cursor = '';
  void refreshDeadLetters();
}

/** Asks in a modal dialog; resolves true on Confirm. */
function confirmDialog(title, text, okText) {
  const dialog = $('confirm');
  $('confirm-title').textContent = title;
  $('confirm-text').textContent = text;
  $('confirm-ok').textContent = okText;
  return new Promise((resolve) => {
    dialog.addEventListener('close', () => resolve(dialog.returnValue === 'ok'), { once: true });
    dialog.returnValue = '';
    dialog.showModal();
    $('confirm-cancel').focus();
  });
}

const STATE_WORDS = { waiting: 'waiting to run', replied: 'replied', deadLettered: 'dead-lettered again', feedbackSent: 'discarded (feedback sent)', noFeedback: 'discarded', unknown: 'not found' };
function outcomeText(outcome) {
  const parts = Object.entries(outcome.counts)
    .filter(([, n]) => n > 0)
    .map(([state, n]) => `${n} ${STATE_WORDS[state] ?? `in ${state}`}`);
  const running = outcome.pending - (outcome.counts.waiting ?? 0);
  return `${parts.join(', ')}${running > 0 ? ` — ${running} in progress` : ''}`;
}

/** Polls the new outcome of replayed envelopes until none is in progress (or a minute passed). */
async function followOutcome(keys, since, prefix) {
  const note = $('dead-letters-note');
  const sample = keys.slice(0, 1000);
  const deadline = Date.now() + 60_000;
  for (;;) {
    let outcome;
    try {
      outcome = await fetchOutcome(sample, since);
    } catch (error) {
      note.textContent = `${prefix} Cannot read their outcome: ${error.message}`;
      return;
    }
    const of = sample.length < keys.length ? ` (of the first ${sample.length})` : '';
    note.textContent = `${prefix} Outcome${of}: ${outcomeText(outcome)}.`;
    note.dataset.pending = String(outcome.pending);
    if (outcome.pending === 0 || Date.now() > deadline) return;
    await new Promise((resolve) => setTimeout(resolve, 700));
  }
}

function fetchOutcome(keys, since) {
  return getJson('/envelopes/outcomes', { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ envelopes: keys, since }) });
}

async function replayOne(letter, button) {
  button.disabled = true;
  const e = letter.envelope ?? {};
  try {
    const result = await getJson(`/dead-letters/${letter.id}/replay`, { method: 'POST' });
    const prefix = `Dead letter ${letter.id} replayed: back in ${queueText(letter.queue)}, through a fresh actor.`;
    $('dead-letters-note').textContent = prefix;
    await refreshDeadLetters();
    void refreshStats();
    if (e.from && e.correlation) await followOutcome([{ from: e.from, correlation: e.correlation }], result.at, prefix);
  } catch (error) {
    $('dead-letters-note').textContent = `Replay of ${letter.id} failed: ${error.message}`;
    button.disabled = false;
  }
}

async function bulk(action) {
  let groups;
  try {
    groups = await getJson(`/dead-letters/groups?${queryOf(dlq.filter)}`);
  } catch (error) {
    $('dead-letters-note').textContent = `Cannot count the dead letters: ${error.message}`;
    return;
  }
  dlq.groups = groups;
  renderDlqCount();
  if (!groups.total) return;
  const n = `${groups.total}${groups.capped ? '+' : ''}`;
  const what = action === 'replay' ? 'Replay' : 'Purge';
  const text =
    action === 'replay'
      ? `${n} dead letters (${filterText(dlq.filter)}) go back through a fresh actor each, keeping their correlation. Dead letters that arrive after this count are left alone.`
      : `${n} dead letters (${filterText(dlq.filter)}) are deleted for good: their envelopes cannot be replayed afterwards. Dead letters that arrive after this count are left alone.`;
  if (!(await confirmDialog(`${what} ${n} dead letters?`, text, `${what} ${n}`))) {
    $('dead-letters-note').textContent = `${what} cancelled.`;
    return;
  }
  $('dead-letters-note').textContent = `${what === 'Replay' ? 'Replaying' : 'Purging'} ${n} dead letters…`;
  let result;
  try {
    result = await getJson(`/dead-letters/${action}`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ ...dlq.filter, upTo: groups.upTo }) });
  } catch (error) {
    $('dead-letters-note').textContent = `${what} failed: ${error.message}`;
    return;
  }
  const failed = result.failed.length ? ` ${result.failed.length} failed (${result.failed[0].error}).` : '';
  const left = result.remaining ? ' More match: run it again for the rest.' : '';
  const prefix = `${result.done.length} dead letters ${action === 'replay' ? 'replayed' : 'purged'}.${failed}${left}`;
  $('dead-letters-note').textContent = prefix;
  dlq.cursor = '';
  await refreshDeadLetters();
  void refreshStats();
  if (action === 'replay') await followOutcome(result.done.filter((d) => d.from && d.correlation).map((d) => ({ from: d.from, correlation: d.correlation })), result.at, prefix);
}

function wireDeadLetters() {
  $('dlq-filter').addEventListener('submit', (event) => {
    event.preventDefault();
    applyDlqFilter();
  });
  for (const id of ['dlq-since', 'dlq-until']) $(id).addEventListener('change', applyDlqFilter);
  $('dlq-clear').addEventListener('click', () => {
    for (const id of ['dlq-reason', 'dlq-subject', 'dlq-from', 'dlq-since', 'dlq-until']) $(id).value = '';
    applyDlqFilter();
  });
  $('dlq-more').addEventListener('click', () => {
    dlq.cursor = dlq.next ?? '';
    void refreshDeadLetters();
  });
  $('dlq-first').addEventListener('click', () => {
    dlq.cursor = '';
    void refreshDeadLetters();
  });
  $('dlq-replay-all').addEventListener('click', () => void bulk('replay'));
  $('dlq-purge-all').addEventListener('click', () => void bulk('purge'));
}

// ---- Envelopes in the status store: filtered pages, and the detail of one.

const store = { cursor: '', next: undefined, filter: {}, cursors: [] };

function whyOf(envelope) {
  if (envelope.discard) return `${envelope.discard.reason}: ${envelope.discard.detail}`;
  if (envelope.deadLetter) return `${envelope.deadLetter.reason}${envelope.deadLetter.lastReason ? ` (${envelope.deadLetter.lastReason})` : ''}: ${envelope.deadLetter.detail}`;
  if (envelope.error) return `${envelope.error.reason ?? 'error'}: ${envelope.error.message}`;
  return '';
}

async function refreshStore() {
  let page;
  try {
    page = await getJson(`/envelopes?${queryOf(store.filter, { limit: '50', ...(store.cursor ? { cursor: store.cursor } : {}) })}`);
  } catch (error) {
    $('store-note').textContent = `Cannot list envelopes: ${error.message}`;
    return;
  }
  store.next = page.next;
  const rows = page.envelopes.map((envelope) => {
    const row = el(
      'tr',
      { class: 'clickable', 'data-correlation': envelope.correlation, 'data-from': envelope.from, 'data-state': envelope.state },
      el('td', { class: 'mono when', text: stamp(envelope.updatedAt), title: envelope.updatedAt }),
      el('td', {}, el('span', { class: `pill ${envelope.state}`, text: envelope.state }), envelope.attempt > 1 ? el('span', { class: 'why', text: ` #${envelope.attempt}` }) : undefined),
      el('td', { class: 'route', text: `${envelope.from} → ${envelope.to}` }),
      el('td', { class: 'subject', text: envelope.subject }),
      el('td', { class: 'mono corr', text: envelope.correlation, title: envelope.correlation }),
      el('td', { class: 'why', text: whyOf(envelope) }),
    );
    opensDetail(row, envelope.from, envelope.correlation);
    return row;
  });
  $('store-envelopes').replaceChildren(...rows);
  $('store-empty').hidden = rows.length > 0;
  $('store-more').hidden = !page.next;
  $('store-first').hidden = !store.cursor;
  const shown = `${rows.length} shown (${filterText(store.filter)}${store.cursor ? ', older page' : ''}).`;
  $('store-note').textContent = `${shown} ${scanNote(page, 'statuses')}`.trim();
  $('store-note').classList.toggle('capped', Boolean(page.capped));
}

function applyStoreFilter() {
  const filter = formFilter('store', ['reason', 'subject', 'from', 'since']);
  const state = $('store-state').value;
  store.filter = state ? { state, ...filter } : filter;
  store.cursor = '';
  void refreshStore();
}

function wireStore() {
  $('store-filter').addEventListener('submit', (event) => {
    event.preventDefault();
    applyStoreFilter();
  });
  for (const id of ['store-state', 'store-since', 'store-until']) $(id).addEventListener('change', applyStoreFilter);
  $('store-clear').addEventListener('click', () => {
    for (const id of ['store-state', 'store-reason', 'store-subject', 'store-from', 'store-since', 'store-until']) $(id).value = '';
    applyStoreFilter();
  });
  $('store-more').addEventListener('click', () => {
    store.cursor = store.next ?? '';
    void refreshStore();
  });
  $('store-first').addEventListener('click', () => {
    store.cursor = '';
    void refreshStore();
  });
  $('detail-close').addEventListener('click', () => {
    $('envelope-detail').hidden = true;
  });
}

function fact(term, ...values) {
  return [el('dt', { text: term }), el('dd', {}, ...values)];
}

function envelopeLink(text, from, correlation) {
  const link = el('a', { href: '#envelope-detail', class: 'mono', text });
  link.addEventListener('click', (event) => {
    event.preventDefault();
    void showEnvelope(from, correlation);
  });
  return link;
}

const RUN_TITLES = { first: 'First delivery', retry: 'Retry', replay: 'Replay' };

async function showEnvelope(from, correlation) {
  const panel = $('envelope-detail');
  let detail;
  try {
    detail = await getJson(`/envelopes/${encodeURIComponent(from)}/${encodeURIComponent(correlation)}/detail`);
  } catch (error) {
    panel.hidden = false;
    $('detail-title').textContent = `${from} / ${correlation}`;
    $('detail-facts').replaceChildren(el('dd', { class: 'why', text: error.status === 404 ? 'Not in the status store (expired, or never received here).' : `Cannot read it: ${error.message}` }));
    for (const id of ['detail-runs', 'detail-links', 'detail-dead-letters']) $(id).replaceChildren();
    $('detail-headers').textContent = '';
    $('detail-body').textContent = '';
    return;
  }
  const s = detail.status;
  panel.hidden = false;
  panel.dataset.correlation = s.correlation;
  $('detail-title').textContent = `${s.subject} — ${s.from} → ${s.to}`;
  $('detail-facts').replaceChildren(
    ...fact('state', el('span', { class: `pill ${s.state}`, text: s.state }), s.final ? undefined : el('span', { class: 'hint', text: ' (in progress)' })),
    ...fact('correlation', el('span', { class: 'mono', text: s.correlation })),
    ...fact('attempt', el('span', { text: String(s.attempt) })),
    ...fact('updated', el('span', { text: `${stamp(s.updatedAt)} (${ago(s.updatedAt)})`, title: s.updatedAt })),
    ...(whyOf(s) ? fact('why', el('span', { class: 'why', text: whyOf(s) })) : []),
    ...(detail.feedback ? fact('feedback', el('span', { text: detail.feedback })) : []),
    ...(s.hash ? fact('hash', el('span', { class: 'mono', text: s.hash })) : []),
  );
  $('detail-runs').replaceChildren(
    ...detail.runs.map((run, i) =>
      el(
        'div',
        { class: `run ${run.kind}` },
        el('span', { class: 'run-title', text: `${i + 1}. ${RUN_TITLES[run.kind]}${run.by ? ` by ${run.by}` : ''}` }),
        el('span', { class: 'history' }, ...run.steps.map((step) => el('span', { class: 'step', text: step.state, title: step.at }))),
        el('span', { class: 'hint', text: ` ${stamp(run.steps[0]?.at)}` }),
      ),
    ),
  );
  const links = [];
  if (detail.reply) {
    const state = detail.reply.state ? ` (${detail.reply.state})` : '';
    const r = detail.reply;
    // The reply's own status exists only where it was received (a domain hosted here).
    const target = state ? envelopeLink(r.correlation, r.from, r.correlation) : el('span', { class: 'mono', text: r.correlation });
    const where = state ? '' : ` — sent to ${r.to}; not received here, so no status of its own`;
    links.push(el('div', { class: 'reply-link' }, el('span', { text: `Reply ${r.subject ?? ''}${state}: ` }), target, el('span', { class: 'hint', text: where })));
  }
  if (detail.conversation) links.push(el('div', { text: `Conversation: ${detail.conversation.state} (asked ${detail.conversation.to} ${detail.conversation.subject})` }));
  $('detail-links').replaceChildren(...links);
  $('detail-headers-from').textContent = detail.headersFrom === 'dead-letter' ? '(as stored with the dead letter)' : '(from the status; the envelope itself is no longer stored)';
  $('detail-headers').textContent = detail.headers.text;
  const body = detail.body;
  $('detail-body-note').textContent = body ? (body.truncated ? `(first ${body.text.length} of ${body.chars} characters)` : '') : '(not stored: bodies are kept for answers and dead letters only)';
  $('detail-body').textContent = body ? body.text : '';
  $('detail-dead-letters').replaceChildren(
    ...(detail.deadLetters.length ? [el('h3', { text: 'Dead letters' })] : []),
    ...detail.deadLetters.map((l) => el('div', { class: 'why', text: `${stamp(l.deadLetteredAt)} — ${l.reason} in ${l.lastState} after ${l.attempts} attempts: ${l.detail}` })),
  );
  panel.scrollIntoView({ block: 'start' });
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

/**
 * The badge says what is true: `live` only while the page's stream from the runtime is open and
 * the runtime reaches NATS (`/readyz`); else which of the two is down.
 */
const health = { stream: undefined, nats: undefined, natsDetail: '' };
function renderBadge() {
  const badge = $('live');
  let text = 'connecting…';
  let state = 'wait';
  if (health.stream === false) [text, state] = ['runtime unreachable — reconnecting…', 'off'];
  else if (health.nats === false) [text, state] = [/NATS is disconnected/.test(health.natsDetail) ? 'NATS down — showing the last known state' : `not ready: ${health.natsDetail}`, 'off'];
  else if (health.stream && health.nats) [text, state] = ['live', 'on'];
  badge.textContent = text;
  badge.className = `live ${state}`;
  badge.title = health.nats === false ? `The runtime says: ${health.natsDetail}` : 'live updates';
  document.body.classList.toggle('degraded', state === 'off');
}

async function checkReady() {
  try {
    const res = await fetch('/readyz', { cache: 'no-store' });
    const body = await res.json().catch(() => ({}));
    health.nats = res.ok;
    health.natsDetail = body.detail ?? `${res.status}`;
  } catch {
    health.stream = false;
  }
  renderBadge();
}

function live() {
  const mark = (on) => {
    health.stream = on;
    renderBadge();
  };
  void checkReady();
  setInterval(checkReady, 2000);
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
  wireDeadLetters();
  wireStore();
  live();
  const params = new URLSearchParams(window.location.search);
  const every = Number(params.get('refresh')) || 2000;
  void refreshStats();
  void refreshDeadLetters();
  void refreshWorkflows();
  void refreshStore();
  setInterval(refreshStats, every);
  setInterval(refreshWorkflows, every);
  setInterval(() => refreshDeadLetters(true), every * 2);
  // The newest page of the store follows along; an older page stays put while it is read.
  setInterval(() => !store.cursor && refreshStore(), every * 5);
}

void main();
