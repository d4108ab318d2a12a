/* global document, window, sessionStorage, URLSearchParams, ResizeObserver, uPlot */
// The dashboard's throughput charts: accepted, replied, discarded and dead-lettered envelopes
// per second over the last ten minutes (GET /dashboard/api/throughput, sampled once a second
// by the runtime), drawn with uPlot, served by the runtime (no CDN).

(() => {
  const section = document.getElementById('charts');
  if (!section || typeof uPlot === 'undefined') return;
  const TOKEN_KEY = 'mailroom.adminToken';
  const withToken = () => {
    const token = sessionStorage.getItem(TOKEN_KEY);
    return token ? { headers: { authorization: `Bearer ${token}` } } : {};
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
  for (const href of ['/dashboard/uplot/uPlot.min.css', '/dashboard/extras.css']) {
    if (!document.querySelector(`link[href="${href}"]`)) document.head.append(el('link', { rel: 'stylesheet', href }));
  }

  const SERIES = [
    { key: 'accepted', label: 'accepted', color: '#2f6fed' },
    { key: 'replied', label: 'replied', color: '#12805c' },
    { key: 'discarded', label: 'discarded', color: '#b54708' },
    { key: 'deadLettered', label: 'dead-lettered', color: '#c01048' },
  ];
  const refreshMs = Number(new URLSearchParams(window.location.search).get('charts') ?? 2000);
  section.classList.add('panel', 'throughput');
  const grid = el('div', { class: 'charts-grid' });
  const note = el('p', { class: 'hint', id: 'charts-note', role: 'status' });
  section.append(el('h2', { text: 'Throughput' }), el('p', { class: 'hint', text: 'Envelopes per second in this process, the last 10 minutes, one point a second.' }), grid, note);

  const charts = SERIES.map((s) => {
    const now = el('span', { class: 'chart-now', 'data-now': s.key, text: '–' });
    const box = el('div', { class: 'chart', 'data-series': s.key }, el('div', { class: 'chart-title' }, el('span', { text: `${s.label} /s` }), now));
    const plot = el('div', { class: 'chart-plot' });
    box.append(plot);
    grid.append(box);
    return { ...s, box, plot, now, chart: undefined };
  });

  const widthOf = (c) => Math.max(120, c.plot.clientWidth || c.box.clientWidth - 16);
  const HEIGHT = 110;
  function make(c, data) {
    c.chart = new uPlot(
      {
        width: widthOf(c),
        height: HEIGHT,
        legend: { show: false },
        cursor: { points: { size: 5 } },
        scales: { x: { time: true }, y: { range: (_u, _min, max) => [0, Math.max(1, max * 1.15)] } },
        axes: [
          { stroke: '#667085', grid: { stroke: '#eaecf0' }, ticks: { stroke: '#eaecf0' }, font: '10px system-ui', size: 24, space: 60 },
          // Whole envelopes: no 2.5 on the axis.
          { stroke: '#667085', grid: { stroke: '#eaecf0' }, ticks: { stroke: '#eaecf0' }, font: '10px system-ui', size: 34, incrs: [1, 2, 5, 10, 20, 50, 100, 200, 500, 1000, 2000, 5000, 10000, 20000, 50000] },
        ],
        series: [{}, { label: c.label, stroke: c.color, width: 1.5, fill: `${c.color}22`, points: { show: false }, spanGaps: false }],
      },
      data,
      c.plot,
    );
  }

  async function poll() {
    try {
      const res = await fetch('/dashboard/api/throughput?seconds=600', withToken());
      if (!res.ok) throw new Error(`${res.status} ${res.statusText}`);
      const body = await res.json();
      for (const c of charts) {
        const values = body.series[c.key];
        const data = [body.times, values];
        if (c.chart) c.chart.setData(data);
        else make(c, data);
        const last = values.length ? values[values.length - 1] : undefined;
        const unavailable = values.length > 0 && values.every((v) => v === null);
        c.now.textContent = unavailable ? 'n/a' : last === undefined || last === null ? '–' : String(last);
        c.box.dataset.points = String(values.filter((v) => v !== null).length);
        c.box.dataset.total = String(values.reduce((sum, v) => sum + (v ?? 0), 0));
      }
      section.dataset.samples = String(body.times.length);
      note.textContent = body.times.length ? '' : 'Waiting for the first samples…';
    } catch (error) {
      note.textContent = `Throughput: ${error.message}`;
    }
    setTimeout(poll, refreshMs);
  }

  new ResizeObserver(() => {
    for (const c of charts) if (c.chart) c.chart.setSize({ width: widthOf(c), height: HEIGHT });
  }).observe(grid);
  void poll();
})();
