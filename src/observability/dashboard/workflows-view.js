/* global document, window, sessionStorage, URLSearchParams */
// The dashboard's Workflows view: a workflow drawn on its machine's statechart (drawn by the
// runtime), its current state highlighted and the path its stored history took; send it an
// event, cancel or resume it, each after a confirmation, through the admin routes
// POST /workflows/{id}/events|cancel|resume. Data is written with textContent; the SVG is the
// runtime's own drawing (names escaped there). `window.mailroomWorkflowsView.show(id)` opens one.

(() => {
  const section = document.getElementById('workflows-view');
  if (!section) return;
  const TOKEN_KEY = 'mailroom.adminToken';
  const withToken = (init = {}) => {
    const token = sessionStorage.getItem(TOKEN_KEY);
    return token ? { ...init, headers: { ...init.headers, authorization: `Bearer ${token}` } } : init;
  };
  const el = (tag, props = {}, ...children) => {
    const node = document.createElement(tag);
    for (const [key, value] of Object.entries(props)) {
      if (key === 'class') node.className = value;
      else if (key === 'text') node.textContent = value;
      else node.setAttribute(key, value);
    }
    for (const child of children) if (child !== undefined && child !== null) node.append(child);
    return node;
  };
  const stateText = (state) => (typeof state === 'string' ? state : JSON.stringify(state));
  async function call(method, url, body) {
    const init = withToken(body === undefined ? { method } : { method, headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
    const res = await fetch(url, init);
    const answer = await res.json().catch(() => undefined);
    if (!res.ok) throw new Error(answer?.detail ?? `${res.status} ${res.statusText}`);
    return answer;
  }

  if (!document.querySelector('link[href="/dashboard/extras.css"]')) document.head.append(el('link', { rel: 'stylesheet', href: '/dashboard/extras.css' }));
  section.classList.add('panel', 'wf-view');
  const picker = el('select', { id: 'wf-view-pick', 'aria-label': 'workflow' });
  const refresh = el('button', { type: 'button', id: 'wf-view-refresh', text: 'Refresh list' });
  const title = el('div', { class: 'wf-view-title', id: 'wf-view-title' });
  const note = el('p', { class: 'hint', id: 'wf-view-note', role: 'status' });
  const chartNote = el('p', { class: 'hint', id: 'wf-view-chart-note' });
  const chart = el('div', { class: 'wf-view-chart', id: 'wf-view-chart' });
  const eventType = el('input', { id: 'wf-view-event', placeholder: 'event type or JSON', 'aria-label': 'event', autocomplete: 'off' });
  const eventButtons = el('span', { class: 'wf-view-events', id: 'wf-view-events' });
  const send = el('button', { type: 'submit', id: 'wf-view-send', text: 'Send event' });
  const cancel = el('button', { type: 'button', id: 'wf-view-cancel', class: 'danger', text: 'Cancel workflow' });
  const resume = el('button', { type: 'button', id: 'wf-view-resume', text: 'Resume' });
  const actions = el('form', { class: 'wf-view-actions', id: 'wf-view-actions', autocomplete: 'off' }, eventButtons, eventType, send, cancel, resume);
  const dialogText = el('p', { id: 'wf-confirm-text' });
  const dialog = el(
    'dialog',
    { id: 'wf-confirm', class: 'wf-confirm' },
    el('form', { method: 'dialog' }, el('h3', { text: 'Confirm' }), dialogText, el('div', { class: 'wf-confirm-buttons' }, el('button', { value: 'cancel', id: 'wf-confirm-no', type: 'submit', class: 'secondary', text: 'Cancel' }), el('button', { value: 'ok', id: 'wf-confirm-yes', type: 'submit', text: 'Confirm' }))),
  );
  section.append(
    el('h2', { text: 'Workflow chart' }),
    el('p', { class: 'hint', text: 'A workflow on its machine: the current state filled, the states and transitions of its stored history outlined in blue. Actions go through the admin routes, after a confirmation.' }),
    el('div', { class: 'wf-view-bar' }, picker, refresh),
    title,
    actions,
    note,
    chartNote,
    chart,
    dialog,
  );

  const view = { id: undefined, data: undefined, timer: undefined };

  /** Resolves true when the user confirms `text` in the dialog. */
  function confirmAction(text) {
    dialogText.textContent = text;
    dialog.returnValue = '';
    dialog.showModal();
    return new Promise((resolve) => dialog.addEventListener('close', () => resolve(dialog.returnValue === 'ok'), { once: true }));
  }

  async function loadList(selected) {
    try {
      const { workflows } = await call('GET', '/workflows?limit=100');
      picker.replaceChildren(el('option', { value: '', text: workflows.length ? 'choose a workflow…' : 'no workflows' }));
      for (const w of workflows) picker.append(el('option', { value: w.id, text: `${w.id} — ${w.name}, ${w.status}, ${stateText(w.state)}` }));
      if (selected) picker.value = selected;
    } catch (error) {
      note.textContent = `Workflows: ${error.message}`;
      // E.g. no admin token yet (the dashboard asks for it): try again shortly.
      setTimeout(() => void loadList(selected ?? view.id), 5000);
    }
  }

  function highlight(data) {
    const svg = chart.querySelector('svg');
    if (!svg) return;
    for (const node of svg.querySelectorAll('g.state')) {
      node.classList.toggle('current', data.current.includes(node.dataset.state));
      node.classList.toggle('visited', data.visited.includes(node.dataset.state));
    }
    const taken = new Set(data.taken.map((t) => `${t.from}\u0000${t.to}`));
    for (const edge of svg.querySelectorAll('[data-from][data-to]')) {
      const on = taken.has(`${edge.dataset.from}\u0000${edge.dataset.to}`);
      edge.classList.toggle('taken', on);
      // The arrowhead too: the chart has a marker of its own for taken transitions.
      const marker = edge.getAttribute('marker-end');
      if (marker) {
        edge.dataset.marker ??= marker;
        edge.setAttribute('marker-end', on ? edge.dataset.marker.replace(/-[a-z]+\)$/, '-taken)') : edge.dataset.marker);
      }
    }
  }

  function render(data) {
    const w = data.workflow;
    section.dataset.workflow = w.id;
    section.dataset.status = w.status;
    section.dataset.state = stateText(w.state);
    title.replaceChildren(
      ...[
      el('strong', { text: w.id }),
      el('span', { text: ` ${w.name} v${w.version} · step ${w.seq} · ` }),
      el('span', { class: `pill wf-${w.status}`, id: 'wf-view-status', text: w.status }),
      el('span', { text: ' in ' }),
      el('code', { id: 'wf-view-state', text: stateText(w.state) }),
      w.parked ? el('div', { class: 'why', text: `parked: ${w.parked.reason}` }) : undefined,
      w.error ? el('div', { class: 'why', text: `${w.error.name}: ${w.error.message}` }) : undefined,
      ].filter(Boolean),
    );
    const drawn = chart.dataset.kind === `${data.chart?.name}@${data.chart?.version}`;
    if (!drawn) {
      chart.innerHTML = data.chart ? data.chart.svg : ''; // the runtime's drawing of the machine, names escaped there
      chart.dataset.kind = data.chart ? `${data.chart.name}@${data.chart.version}` : '';
    }
    if (data.chart) highlight(data);
    chartNote.textContent = data.note ?? '';
    const active = w.status === 'running' || w.status === 'parked';
    eventButtons.replaceChildren(...(data.events ?? []).map((type) => el('button', { type: 'button', class: 'secondary wf-event', 'data-event': type, text: type })));
    for (const control of [eventType, send, cancel]) control.disabled = !active;
    resume.hidden = w.status !== 'parked';
  }

  async function show(id) {
    view.id = id;
    if (view.timer) clearInterval(view.timer);
    if (!id) {
      title.replaceChildren();
      await showKinds();
      return;
    }
    try {
      render((view.data = await call('GET', `/dashboard/api/workflow-chart/${encodeURIComponent(id)}`)));
    } catch (error) {
      note.textContent = `Workflow ${id}: ${error.message}`;
      return;
    }
    view.timer = setInterval(() => void reload(), 3000);
  }

  /** With no workflow chosen: every registered kind's chart. */
  async function showKinds() {
    chart.replaceChildren();
    chart.dataset.kind = '';
    try {
      const { kinds } = await call('GET', '/dashboard/api/workflow-kinds');
      for (const kind of kinds) {
        const figure = el('figure', { class: 'wf-kind', 'data-kind': kind.name }, el('figcaption', { text: `${kind.name} v${kind.version}` }));
        const drawing = el('div');
        drawing.innerHTML = kind.svg; // the runtime's drawing of the machine, names escaped there
        figure.append(drawing);
        chart.append(figure);
      }
      if (!kinds.length) chartNote.textContent = 'No workflow kinds are registered in this process.';
    } catch (error) {
      chartNote.textContent = `Workflow kinds: ${error.message}`;
    }
  }

  async function reload() {
    if (!view.id) return;
    try {
      render((view.data = await call('GET', `/dashboard/api/workflow-chart/${encodeURIComponent(view.id)}`)));
    } catch {
      /* shown on the next action */
    }
  }

  async function act(what, method, path, body) {
    const id = view.id;
    if (!id || !(await confirmAction(`${what} — workflow ${id}?`))) {
      note.textContent = 'Nothing sent.';
      return;
    }
    try {
      const info = await call(method, `/workflows/${encodeURIComponent(id)}/${path}`, body);
      note.textContent = `Done: ${id} is ${info.status} in ${stateText(info.state)}.`;
    } catch (error) {
      note.textContent = `Refused: ${error.message}`;
    }
    await reload();
    await loadList(id);
  }

  function parseEvent(raw) {
    const text = raw.trim();
    if (!text) return undefined;
    if (!text.startsWith('{')) return { type: text };
    const event = JSON.parse(text);
    if (typeof event?.type !== 'string') throw new Error('an event needs a string "type"');
    return event;
  }

  actions.addEventListener('submit', (event) => {
    event.preventDefault();
    let parsed;
    try {
      parsed = parseEvent(eventType.value);
    } catch (error) {
      note.textContent = `Not an event: ${error.message}`;
      return;
    }
    if (parsed) void act(`Send event ${parsed.type}`, 'POST', 'events', parsed).then(() => (eventType.value = ''));
  });
  eventButtons.addEventListener('click', (event) => {
    const type = event.target?.dataset?.event;
    if (type) void act(`Send event ${type}`, 'POST', 'events', { type });
  });
  cancel.addEventListener('click', () => void act('Cancel (ends it as cancelled; its timers and activities are dropped)', 'POST', 'cancel', { reason: 'cancelled from the dashboard' }));
  resume.addEventListener('click', () => void act('Resume (runs it again with the definitions registered now)', 'POST', 'resume', {}));
  picker.addEventListener('change', () => void show(picker.value));
  refresh.addEventListener('click', () => void loadList(view.id));

  window.mailroomWorkflowsView = {
    show: async (id) => {
      await loadList(id);
      await show(id);
      section.scrollIntoView({ block: 'start' });
    },
  };
  const wanted = new URLSearchParams(window.location.hash.slice(1)).get('workflow') ?? undefined;
  void loadList(wanted).then(() => show(wanted));
})();
