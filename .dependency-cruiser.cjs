// @ts-check
/* global module */
/**
 * The layering of Mailroom's sources, checked by `npm run lint` (dependency-cruiser). Each layer
 * may import the layers listed before it, never one after it; type-only imports count
 * (`tsPreCompilationDeps`). No module cycles anywhere.
 *
 *   machines                 pure machine definitions (xstate, zod, types; eslint keeps them pure)
 *   errors                   error classes, user-module.ts, package-root.ts
 *   keys < envelope < config < transport
 *   runtime                  envelope actors, inbox, outbox, conversations, timers, dead letters
 *   workflows                the durable workflow engine (uses the runtime's timers and conversations)
 *   core                     runtime + workflows composed: the public Mailroom types, startRuntime
 *   observability            metrics, logs, traces, inspector, dashboard (read the Mailroom types)
 *   http                     the HTTP server, serveMailroom, the ingress worker thread
 *   mailroom                 startMailroom, createMailroom: core + http, in start order
 *   cli, testing, index.ts   the entries
 *
 * No exceptions.
 */
const layers = [
  ['machines', '^machines/'],
  ['errors', '^src/(errors[.]ts$|errors/|user-module[.]ts$|package-root[.]ts$)'],
  ['keys', '^src/keys/'],
  ['envelope', '^src/envelope/'],
  ['config', '^src/config/'],
  ['transport', '^src/transport/'],
  ['runtime', '^src/runtime/'],
  ['workflows', '^src/workflows/'],
  ['core', '^src/core/'],
  ['observability', '^src/observability/'],
  ['http', '^src/http/'],
  ['mailroom', '^src/mailroom/'],
  ['entries', '^src/(cli/|testing/|index[.]ts$)'],
];

/** @type {import('dependency-cruiser').IConfiguration} */
module.exports = {
  forbidden: [
    {
      name: 'no-circular',
      severity: 'error',
      comment: 'A module cycle: split the shared part out, or pass it in.',
      from: {},
      to: { circular: true },
    },
    ...layers.slice(0, -1).map(([name, path], i) => ({
      name: `${name}-imports-upward`,
      severity: /** @type {const} */ ('error'),
      comment: `${name} may import only ${layers.slice(0, i).map(([n]) => n).join(', ') || 'packages'} (see the layering at the top of .dependency-cruiser.cjs).`,
      from: { path },
      to: { path: layers.slice(i + 1).map(([, p]) => `(${p})`).join('|') },
    })),
    {
      name: 'no-unresolvable',
      severity: 'error',
      comment: 'An import that resolves to nothing.',
      from: {},
      to: { couldNotResolve: true },
    },
  ],
  options: {
    doNotFollow: { path: 'node_modules' },
    tsPreCompilationDeps: true,
    tsConfig: { fileName: 'tsconfig.json' },
    enhancedResolveOptions: { exportsFields: ['exports'], conditionNames: ['import', 'require', 'node', 'default', 'types'] },
    moduleSystems: ['es6', 'cjs'],
  },
};
