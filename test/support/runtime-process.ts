/**
 * A Mailroom runtime in its own process, for tests that kill it. Reads a JSON file
 * `{ input, dir, handlerDelayMs, outboxWorker }`, starts the runtime with a `Hello@Host`
 * handler for every local domain, prints `ready <url>` and runs until SIGTERM.
 *
 *   tsx test/support/runtime-process.ts <spec.json>
 */
import { readFile } from 'node:fs/promises';
import { parseConfig } from '../../src/config/index.ts';
import { startMailroom } from '../../src/runtime/mailroom.ts';
import type { HandlerMap } from '../../src/runtime/handlers.ts';

interface Spec {
  input: Record<string, unknown>;
  dir: string;
  handlerDelayMs?: number;
  outboxWorker?: boolean;
}

const spec = JSON.parse(await readFile(process.argv[2]!, 'utf8')) as Spec;
const config = parseConfig(spec.input, { baseDir: spec.dir, env: {} });
const hello: HandlerMap = {
  'Hello@Host': async ({ body, attempt }) => {
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
