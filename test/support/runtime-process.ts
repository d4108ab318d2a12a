/**
 * A Mailroom runtime in its own process, for tests that kill it. Reads a JSON file
 * `{ input, dir, handlerDelayMs, outboxWorker, holdDir }`, starts the runtime with a
 * `Hello@Host` handler for every local domain, prints `ready <url>` and runs until SIGTERM.
 *
 * With `holdDir`, the handler *holds* an envelope whose Body has `hold: true`: it writes a
 * marker `<holdDir>/<pid>.<correlation>.<attempt>` and does not return until the file
 * `<holdDir>/release` exists. A kill test waits for the markers it needs (N envelopes in
 * flight, deterministically) and kills the process then, instead of racing a timer.
 *
 *   tsx test/support/runtime-process.ts <spec.json>
 */
import { existsSync } from 'node:fs';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { parseConfig } from '../../src/config/index.ts';
import { startMailroom } from '../../src/mailroom/start-mailroom.ts';
import type { HandlerMap } from '../../src/runtime/handlers.ts';

interface Spec {
  input: Record<string, unknown>;
  dir: string;
  handlerDelayMs?: number;
  outboxWorker?: boolean;
  holdDir?: string;
}

/** Marks this envelope as held, then waits until the test releases every hold (or kills the process). */
async function hold(dir: string, marker: string): Promise<void> {
  await writeFile(join(dir, marker), '');
  while (!existsSync(join(dir, 'release'))) await new Promise((resolve) => setTimeout(resolve, 20));
}

const spec = JSON.parse(await readFile(process.argv[2]!, 'utf8')) as Spec;
const config = parseConfig(spec.input, { baseDir: spec.dir, env: {} });
const hello: HandlerMap = {
  'Hello@Host': async ({ body, attempt, correlation }) => {
    if (spec.holdDir && (body as { hold?: unknown } | undefined)?.hold === true) await hold(spec.holdDir, `${process.pid}.${correlation}.${attempt}`);
    if (spec.handlerDelayMs) await new Promise((resolve) => setTimeout(resolve, spec.handlerDelayMs));
    return { echo: body, attempt, pid: process.pid };
  },
};
const mailroom = await startMailroom(config, {
  handlers: Object.fromEntries(config.domains.map((d) => [d.name, hello])),
  outboxWorker: spec.outboxWorker ?? true,
  onError: () => undefined,
});
process.stdout.write(`ready ${mailroom.url} pid ${process.pid}\n`);
process.once('SIGTERM', () => {
  void mailroom.stop().then(() => process.exit(0));
});
