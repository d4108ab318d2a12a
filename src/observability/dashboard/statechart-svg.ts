import type { StatechartLayout } from './statechart-layout.ts';

const escape = (text: string) => text.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);

/**
 * Draws a laid-out statechart as SVG markup. Each state is a `<g class="state"
 * data-state="…">` holding a `<text class="count">`, which the dashboard's script updates
 * with the live number of actors in that state.
 */
export function renderStatechartSvg(layout: StatechartLayout): string {
  const id = escape(layout.id);
  const edges = layout.transitions.map((t) => {
    const title = escape(`${t.from} → ${t.to}: ${t.labels.join(', ')}`);
    return `<path class="transition ${t.kind}" d="${t.path}" marker-end="url(#arrow-${id}-${t.kind})"><title>${title}</title></path>`;
  });
  const nodes = layout.states.map((s) => {
    const classes = ['state', s.final ? 'final' : '', s.initial ? 'initial' : ''].filter(Boolean).join(' ');
    const cx = s.x + s.width / 2;
    const invoke = s.invokes.length ? `<text class="invoke" x="${cx}" y="${s.y + 36}">${escape(s.invokes.join(', '))}</text>` : '';
    const inner = s.final ? `<rect class="inner" x="${s.x + 4}" y="${s.y + 4}" width="${s.width - 8}" height="${s.height - 8}" rx="6"/>` : '';
    return [
      `<g class="${classes}" data-state="${escape(s.id)}"><title>${escape(s.id)}${s.final ? ' (final)' : ''}</title>`,
      `<rect class="box" x="${s.x}" y="${s.y}" width="${s.width}" height="${s.height}" rx="9"/>${inner}`,
      `<text class="name" x="${cx}" y="${s.y + 21}">${escape(s.id)}</text>${invoke}`,
      `<g class="badge"><rect x="${s.x + s.width - 30}" y="${s.y - 10}" width="40" height="20" rx="10"/>`,
      `<text class="count" data-count="${escape(s.id)}" x="${s.x + s.width - 10}" y="${s.y + 4}">0</text></g>`,
      '</g>',
    ].join('');
  });
  const markers = ['done', 'error', 'always', 'after', 'event'].map(
    (kind) => `<marker id="arrow-${id}-${kind}" class="arrow ${kind}" viewBox="0 0 10 10" refX="9" refY="5" markerWidth="7" markerHeight="7" orient="auto-start-reverse"><path d="M0,0 L10,5 L0,10 z"/></marker>`,
  );
  return [
    `<svg xmlns="http://www.w3.org/2000/svg" class="statechart" data-machine="${id}" viewBox="0 0 ${layout.width} ${layout.height}" width="${layout.width}" height="${layout.height}" role="img" aria-label="${id} statechart">`,
    `<defs>${markers.join('')}</defs>`,
    `<g class="transitions">${edges.join('')}</g>`,
    `<g class="states">${nodes.join('')}</g>`,
    '</svg>',
  ].join('');
}
