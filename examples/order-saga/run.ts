/**
 * The order saga, end to end, in one command:
 *
 *   npx tsx examples/order-saga/run.ts            places three orders, prints each one's path, exits
 *   npx tsx examples/order-saga/run.ts --serve    the same, then keeps running with the dashboard and the inspector
 *   npx tsx examples/order-saga/run.ts --help
 *
 * One runtime hosts both domains: shop.example runs the saga (a durable workflow), and
 * warehouse.example answers its signed Reserve@Warehouse and Release@Warehouse envelopes.
 * Without NATS_URL an embedded nats-server keeps its store in examples/order-saga/.mailroom.
 * Exits 0 when every order reached the end it should.
 */
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { createInterface } from 'node:readline';
import type { WorkflowInfo } from '../../src/index.ts';
import type { Observability } from '../../src/observability/index.ts';
import type { OrderInput } from './order-saga.machine.ts';

const USAGE = `Usage: npx tsx examples/order-saga/run.ts [--serve] [--port N] [--inspect-port N] [--payment-timeout MS]

Places three orders through the order saga (a durable Mailroom workflow) and prints the path
each one took:
  A  paid and shipped                 reserving → charging → shipping → shipped
  B  card declined                    reserving → charging → releasingStock → cancelled
  C  payment provider never answers   reserving → charging → refunding → releasingStock → cancelled
Exits 0 when all three reached those ends, 1 otherwise.

Options:
  --serve                 keep running afterwards, with HTTP: the dashboard (its Workflows panel),
                          GET /workflows, and Stately Inspector at /inspect. Press Enter to place
                          three more orders, Ctrl-C to stop.
  --port N                the HTTP port with --serve (default 8080; 0 = any free port)
  --inspect-port N        the inspector WebSocket port with --serve (default 8081; 0 = any free port)
  --payment-timeout MS    how long the payment provider gets (default 3000)
  -h, --help              this text

Environment: NATS_URL uses that NATS server instead of the embedded one.
`;

interface Expected {
  readonly label: string;
  readonly state: string;
  /** States the path must pass through, in this order, and states it must not. */
  readonly through: readonly string[];
  readonly never: readonly string[];
}

function fail(message: string): never {
  process.stderr.write(`${message}\n\n${USAGE}`);
  process.exit(2);
}

const portFlag = (name: string, raw: string | undefined, fallback: number): number => {
  if (raw === undefined) return fallback;
  const port = Number(raw);
  if (!Number.isInteger(port) || port < 0 || port > 65_535) fail(`--${name} takes a port number (0 for any free one), not ${JSON.stringify(raw)}`);
  return port;
};

let flags: { serve?: boolean; help?: boolean; port?: string; 'inspect-port'?: string; 'payment-timeout'?: string };
try {
  flags = parseArgs({
    options: {
      serve: { type: 'boolean' },
      help: { type: 'boolean', short: 'h' },
      port: { type: 'string' },
      'inspect-port': { type: 'string' },
      'payment-timeout': { type: 'string' },
    },
    strict: true,
  }).values;
} catch (error) {
  fail(error instanceof Error ? error.message : String(error));
}
if (flags.help) {
  process.stdout.write(USAGE);
  process.exit(0);
}
if (!flags.serve && (flags.port !== undefined || flags['inspect-port'] !== undefined)) fail('--port and --inspect-port need --serve');
const paymentTimeoutMs = flags['payment-timeout'] === undefined ? undefined : Number(flags['payment-timeout']);
if (paymentTimeoutMs !== undefined && !(Number.isInteger(paymentTimeoutMs) && paymentTimeoutMs > 0)) fail('--payment-timeout takes a positive number of milliseconds');
const httpPort = portFlag('port', flags.port, 8080);
const inspectPort = portFlag('inspect-port', flags['inspect-port'], 8081);

// Loaded once the flags are known: --help and a bad flag answer at once.
const { createMailroom, loadConfig } = await import('../../src/index.ts');
const { startObservability } = await import('../../src/observability/index.ts');
const { orderSaga } = await import('./order-saga.machine.ts');
const { createWarehouse } = await import('./warehouse.ts');
const { CARDS } = await import('./services.ts');

const SCENARIOS: readonly (Expected & { readonly suffix: string; readonly card: string; readonly sku: string; readonly amount: number })[] = [
  { suffix: 'A', label: 'paid and shipped', card: CARDS.ok, sku: 'book', amount: 1_200, state: 'shipped', through: ['reserving', 'charging', 'shipping', 'shipped'], never: ['refunding', 'releasingStock'] },
  { suffix: 'B', label: 'card declined: stock released', card: CARDS.declined, sku: 'lamp', amount: 4_500, state: 'cancelled', through: ['reserving', 'charging', 'releasingStock', 'cancelled'], never: ['shipping', 'refunding'] },
  {
    suffix: 'C',
    label: 'payment timed out: refunded, stock released',
    card: CARDS.hangs,
    sku: 'chair',
    amount: 8_900,
    state: 'cancelled',
    through: ['reserving', 'charging', 'refunding', 'releasingStock', 'cancelled'],
    never: ['shipping'],
  },
];

const configFile = fileURLToPath(new URL('./mailroom.yaml', import.meta.url));
// Only the NATS variables apply (and the HTTP port from --port); the rest of the file stands as written.
const config = await loadConfig(configFile, {
  env: {
    NATS_URL: process.env.NATS_URL,
    MAILROOM_NATS_URL: process.env.MAILROOM_NATS_URL,
    ...(flags.serve ? { MAILROOM_HTTP_PORT: String(httpPort) } : {}),
  },
});

/** The address in use, when `error` (or its cause) is an EADDRINUSE. */
function addressInUse(error: unknown): string | undefined {
  for (let e = error; e instanceof Error; e = e.cause) {
    const { code, port, address } = e as NodeJS.ErrnoException & { port?: number; address?: string };
    if (code === 'EADDRINUSE') return port !== undefined ? `${address ?? ''}:${port}` : (/\S+:\d+\s*$/.exec(e.message)?.[0].trim() ?? 'the port');
  }
  return undefined;
}

/** Starting failed: one clear line (and a hint for a port in use) instead of a stack, exit code 1. */
function startFailed(error: unknown, what: string, flag: string): never {
  const inUse = addressInUse(error);
  if (inUse) process.stderr.write(`error: cannot start ${what}: ${inUse} is already in use\nhint: stop what listens there (an earlier run?), or pick another port: ${flag} N (0 = any free one)\n`);
  else {
    const cause = error instanceof Error && error.cause instanceof Error ? `\ncause: ${error.cause.message}` : '';
    process.stderr.write(`error: cannot start ${what}: ${error instanceof Error ? error.message : String(error)}${cause}\n`);
  }
  process.exit(1);
}

const warehouse = createWarehouse({ book: 100, lamp: 100, chair: 100 });
let observability: Observability | undefined;
if (flags.serve) observability = await startObservability({ inspector: { port: inspectPort }, tracing: false }).catch((error: unknown) => startFailed(error, 'the inspector', '--inspect-port'));

const mailroom = createMailroom(config, {
  ...(observability ? observability.mailroomOptions : { http: false }),
  handlers: { 'warehouse.example': warehouse.handlers },
});
// Register before start: workflows (and their timers and tasks left over from an earlier run) may resume at once.
const registered = mailroom.workflows.register(orderSaga);

const pad = (text: string, width: number) => (text.length >= width ? text : text + ' '.repeat(width - text.length));
const stateText = (state: WorkflowInfo['state']) => (typeof state === 'string' ? state : JSON.stringify(state));

/** The states a workflow passed through, from its history (repeats folded). */
function pathOf(info: WorkflowInfo): string[] {
  const states = info.history.map((h) => stateText(h.state));
  return states.filter((s, i) => s !== states[i - 1]);
}

function check(info: WorkflowInfo, expected: Expected): string[] {
  const problems: string[] = [];
  const path = pathOf(info);
  if (info.status !== 'done') problems.push(`status is ${info.status}, expected done${info.error ? ` (${info.error.message})` : ''}`);
  if (stateText(info.state) !== expected.state) problems.push(`ended in ${stateText(info.state)}, expected ${expected.state}`);
  let at = -1;
  for (const state of expected.through) {
    const next = path.indexOf(state, at + 1);
    if (next < 0) problems.push(`did not pass through ${state} (in order)`);
    else at = next;
  }
  for (const state of expected.never) if (path.includes(state)) problems.push(`went through ${state}, which it should not`);
  return problems;
}

function report(info: WorkflowInfo, expected: Expected, problems: readonly string[]): void {
  const context = info.context as { failure?: { step: string; reason: string } | null; trackingNumber?: string | null; refundId?: string | null; reservationId?: string | null };
  const lines = [`${problems.length ? '✗' : '✓'} order ${info.id}: ${expected.label}`, `  path:  ${pathOf(info).join(' → ')}   (${info.status}, ${info.seq} steps)`];
  for (const step of info.history) lines.push(`    ${pad(step.event, 44)} → ${stateText(step.state)}`);
  const facts = [
    context.reservationId ? `reservation ${context.reservationId}` : undefined,
    context.trackingNumber ? `tracking ${context.trackingNumber}` : undefined,
    context.refundId ? `refund ${context.refundId}` : undefined,
    context.failure ? `failed at ${context.failure.step}: ${context.failure.reason}` : undefined,
  ].filter(Boolean);
  if (facts.length) lines.push(`  ${facts.join('; ')}`);
  for (const problem of problems) lines.push(`  PROBLEM: ${problem}`);
  console.log(`${lines.join('\n')}\n`);
}

let round = 0;
/** Places the three orders at once, waits until each has ended, prints them. True when all ended as expected. */
async function placeOrders(): Promise<boolean> {
  round += 1;
  const stamp = `${Date.now().toString(36)}-${round}`;
  const started = await Promise.all(
    SCENARIOS.map(async (scenario) => {
      const input: OrderInput = { orderId: `${stamp}-${scenario.suffix}`, sku: scenario.sku, qty: 1, amount: scenario.amount, card: scenario.card, ...(paymentTimeoutMs ? { paymentTimeoutMs } : {}) };
      const info = await mailroom.workflows.start(registered.name, input, { id: `order-${input.orderId}` });
      console.log(`placed order ${info.id} (${scenario.label.split(':')[0]}, card ${scenario.card})`);
      return { scenario, info };
    }),
  );
  console.log('');
  let ok = true;
  for (const { scenario, info } of started) {
    let end: WorkflowInfo;
    try {
      end = await mailroom.workflows.waitFor(info.id, (w) => w.status !== 'running', { timeoutMs: 60_000 });
    } catch (error) {
      console.log(`✗ order ${info.id}: ${error instanceof Error ? error.message : String(error)}`);
      ok = false;
      continue;
    }
    // The full record, history included, as `workflows.get` returns it.
    const final = (await mailroom.workflows.get(info.id)) ?? end;
    const problems = check(final, scenario);
    report(final, scenario, problems);
    if (problems.length) ok = false;
  }
  console.log(ok ? 'all orders reached the expected end states' : 'some orders did NOT reach the expected end states');
  return ok;
}

const runtime = await mailroom.start().catch(async (error: unknown) => {
  await observability?.stop();
  return startFailed(error, flags.serve ? 'the runtime (HTTP for the dashboard)' : 'the runtime', '--port');
});
observability?.attach(runtime);
let exitCode = 0;
try {
  console.log(`order saga ${registered.name}@${registered.version}; NATS ${runtime.natsUrl}${config.nats.url ? '' : ` (embedded, store ${config.nats.embedded.storeDir})`}\n`);
  if (!(await placeOrders())) exitCode = 1;
  if (flags.serve) {
    console.log('');
    console.log(`dashboard:  ${runtime.url}/            (the Workflows panel lists every order)`);
    console.log(`workflows:  ${runtime.url}/workflows   and ${runtime.url}/workflows/{id}`);
    console.log(`inspector:  ${runtime.url}/inspect     (Stately Inspector; needs the internet) — WebSocket ${observability?.inspector?.url}`);
    console.log(`metrics:    ${runtime.url}/metrics`);
    console.log(process.stdin.isTTY ? 'serving; press Enter to place three more orders, Ctrl-C to stop' : 'serving; Ctrl-C to stop');
    await new Promise<void>((resolve) => {
      const lines = process.stdin.isTTY ? createInterface({ input: process.stdin }) : undefined;
      let busy = false;
      lines?.on('line', () => {
        if (busy) return;
        busy = true;
        void placeOrders().finally(() => (busy = false));
      });
      const stop = () => {
        lines?.close();
        resolve();
      };
      process.once('SIGINT', stop);
      process.once('SIGTERM', stop);
    });
  }
} finally {
  await mailroom.stop();
  await observability?.stop();
}
if (flags.serve) console.log('stopped; the workflows stay stored in NATS for the next run');
process.exitCode = exitCode;
