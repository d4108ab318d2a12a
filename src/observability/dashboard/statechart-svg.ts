import { labelLines, layoutStatechart, type LaidOutState, type LaidOutTransition, type StatechartLayout } from './statechart-layout.ts';

const escape = (text: string) => text.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);

/** The SVG shrinks with its box down to this scale (labels ~9 px), then its box scrolls: legible at 420 px. */
const MIN_SCALE = 0.8;

const KINDS = ['done', 'error', 'always', 'after', 'event', 'redelivery', 'taken'] as const;

/**
 * The chart's own style, so an SVG reads the same wherever it is shown (the dashboard, a file,
 * an `<img>`); a page may override it. Sizes are in the chart's units: the SVG scales to its
 * box (viewBox), and at 420 px the 11-unit labels stay legible because the layout runs top to bottom.
 */
const STYLE = `
svg.statechart{font:12px system-ui,-apple-system,"Segoe UI",Roboto,sans-serif}
svg.statechart .transition{fill:none;stroke:#98a2b3;stroke-width:1.4}
svg.statechart .transition.error{stroke:#e9829f;stroke-dasharray:5 3}
svg.statechart .transition.always{stroke-dasharray:2 3}
svg.statechart .transition.redelivery{stroke:#7a9cf0;stroke-dasharray:7 3}
svg.statechart .transition.taken{stroke:#2f6fed;stroke-width:2.6}
svg.statechart .arrow path{fill:#98a2b3}
svg.statechart .arrow.error path{fill:#e9829f}
svg.statechart .arrow.redelivery path{fill:#7a9cf0}
svg.statechart .arrow.taken path{fill:#2f6fed}
svg.statechart .label rect{fill:#fff;fill-opacity:.9}
svg.statechart .label text{font-size:11px;fill:#475467}
svg.statechart .label.taken text{fill:#2f6fed;font-weight:600}
svg.statechart .state .box{fill:#fff;stroke:#475467;stroke-width:1.4}
svg.statechart .state.compound>.box{fill:#f9fafb;stroke:#98a2b3}
svg.statechart .state .inner{fill:none;stroke:#475467;stroke-width:1}
svg.statechart .state.resting .box{stroke-dasharray:6 3;stroke:#7a9cf0}
svg.statechart .state.initial>.box{stroke-width:2.4}
svg.statechart .state .name{text-anchor:middle;font-weight:600;font-size:13px;fill:#1d2330}
svg.statechart .state .invoke{text-anchor:middle;font-size:11px;fill:#667085}
svg.statechart .state .badge rect{fill:#eaecf0;stroke:#98a2b3}
svg.statechart .state .badge text{text-anchor:middle;font-weight:700;font-size:11px;fill:#1d2330;font-variant-numeric:tabular-nums}
svg.statechart .state.visited>.box{fill:#eef4ff;stroke:#2f6fed}
svg.statechart .state.current>.box{fill:#2f6fed;stroke:#1a4fc4;stroke-width:3}
svg.statechart .state.current>.name,svg.statechart .state.current>.invoke{fill:#fff}
svg.statechart .state.compound.current>.box{fill:#eef4ff;stroke:#2f6fed;stroke-width:3}
svg.statechart .state.compound.current>.name,svg.statechart .state.compound.current>.invoke{fill:#1a4fc4}
svg.statechart .initial-dot{fill:#1d2330}
svg.statechart .initial-arrow{fill:none;stroke:#1d2330;stroke-width:1.4}`;

function stateMarkup(s: LaidOutState): string {
  const classes = ['state', s.final ? 'final' : '', s.resting ? 'resting' : '', s.initial ? 'initial' : '', s.compound ? 'compound' : ''].filter(Boolean).join(' ');
  // Centred in the room left of the badge.
  const cx = s.x + (s.width - 26) / 2;
  const invoke = s.invokes.length ? `<text class="invoke" x="${cx}" y="${s.y + 37}">${escape(s.invokes.join(', '))}</text>` : '';
  const inner = s.final ? `<rect class="inner" x="${s.x + 3}" y="${s.y + 3}" width="${s.width - 6}" height="${s.height - 6}" rx="6"/>` : '';
  const why = s.final ? ' (final)' : s.resting ? ' (the attempt ends; JetStream redelivers the envelope later)' : '';
  return [
    `<g class="${classes}" data-state="${escape(s.id)}"><title>${escape(s.id)}${why}</title>`,
    `<rect class="box" x="${s.x}" y="${s.y}" width="${s.width}" height="${s.height}" rx="8"/>${inner}`,
    `<text class="name" x="${cx}" y="${s.y + 20}">${escape(s.key)}</text>${invoke}`,
    `<g class="badge"><rect x="${s.x + s.width - 30}" y="${s.y + 6}" width="26" height="16" rx="8"/>`,
    `<text class="count" data-count="${escape(s.id)}" x="${s.x + s.width - 17}" y="${s.y + 18}">0</text></g>`,
    '</g>',
  ].join('');
}

function edgeMarkup(t: LaidOutTransition, id: string): string {
  const title = escape(`${t.from} → ${t.to}: ${t.labels.join(', ')}`);
  const data = `data-from="${escape(t.from)}" data-to="${escape(t.to)}"`;
  return `<path class="transition ${t.kind}" ${data} d="${t.path}" marker-end="url(#arrow-${id}-${t.kind})"><title>${title}</title></path>`;
}

function labelMarkup(t: LaidOutTransition): string {
  const { x, y, width, height } = t.label;
  const lines = labelLines(t.labels).map((line, i) => `<tspan x="${x + 3}" y="${y + 12 + i * 14}">${escape(line)}</tspan>`).join('');
  return `<g class="label" data-from="${escape(t.from)}" data-to="${escape(t.to)}"><rect x="${x}" y="${y}" width="${width}" height="${height}" rx="3"/><text>${lines}</text></g>`;
}

/**
 * Draws a laid-out statechart as SVG markup, with a viewBox, so it scales to its box. Each
 * state is a `<g class="state" data-state="…">` holding a `<text class="count">`, which the
 * dashboard's script updates with the live number of actors in that state; each transition a
 * `<path class="transition <kind>" data-from data-to>` with its label in a `<g class="label">`.
 * Classes `current` / `visited` on states and `taken` on transitions highlight a path.
 */
export function renderStatechartSvg(layout: StatechartLayout): string {
  const id = escape(layout.id).replace(/[^\w-]/g, '_');
  const markers = KINDS.map(
    (kind) => `<marker id="arrow-${id}-${kind}" class="arrow ${kind}" viewBox="0 0 10 10" refX="9" refY="5" markerWidth="9" markerHeight="9" markerUnits="userSpaceOnUse" orient="auto-start-reverse"><path d="M0,0 L10,5 L0,10 z"/></marker>`,
  );
  const initials = layout.initials.map((i) => `<circle class="initial-dot" cx="${i.dot.x}" cy="${i.dot.y}" r="5"/><path class="initial-arrow" d="${i.path}" marker-end="url(#arrow-${id}-event)"/>`);
  return [
    `<svg xmlns="http://www.w3.org/2000/svg" class="statechart" data-machine="${escape(layout.id)}" viewBox="0 0 ${layout.width} ${layout.height}" width="${layout.width}" height="${layout.height}" preserveAspectRatio="xMidYMin meet" style="min-width:${Math.round(layout.width * MIN_SCALE)}px" role="img" aria-label="${escape(layout.id)} statechart">`,
    `<style>${STYLE}</style>`,
    `<defs>${markers.join('')}</defs>`,
    `<g class="states">${layout.states.map(stateMarkup).join('')}</g>`,
    `<g class="initials">${initials.join('')}</g>`,
    `<g class="transitions">${layout.transitions.map((t) => edgeMarkup(t, id)).join('')}</g>`,
    `<g class="labels">${layout.transitions.map(labelMarkup).join('')}</g>`,
    '</svg>',
  ].join('');
}

/** A machine's statechart as SVG: {@link renderStatechartSvg} of its (cached) layout. */
export async function statechartSvg(...args: Parameters<typeof layoutStatechart>): Promise<string> {
  return renderStatechartSvg(await layoutStatechart(...args));
}
