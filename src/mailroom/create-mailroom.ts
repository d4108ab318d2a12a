import type { AnyStateMachine } from 'xstate';
import type { MailroomConfig } from '../config/index.ts';
import { MailroomNotStartedError } from '../errors.ts';
import type { Mailroom, MailroomOptions } from '../core/mailroom-types.ts';
import { startMailroom } from './start-mailroom.ts';
import type { WorkflowOptions, Workflows } from '../workflows/workflow-types.ts';
import { registrationOf } from '../workflows/workflow-engine.ts';

/**
 * A Mailroom to embed, created before it starts: register workflows and handlers first,
 * then `start()`. Everything else is {@link Mailroom}'s, available once started.
 */
export interface MailroomClient extends Omit<Mailroom, 'url' | 'adminUrl' | 'natsUrl' | 'names' | 'events' | 'deadLetters' | 'queries' | 'workflows'> {
  /** Connects (or starts the embedded nats-server), provisions, and starts consuming. Resolves when ready. */
  start(): Promise<Mailroom>;
  /** True between a resolved `start()` and `stop()`. */
  readonly started: boolean;
  /** The running runtime (throws {@link MailroomNotStartedError} before `start()`). */
  readonly runtime: Mailroom;
  /** Workflows: `register` works before `start()`; the rest needs a started runtime. */
  readonly workflows: Workflows;
}

/**
 * Creates an embeddable Mailroom: nothing runs until `start()`.
 *
 * @example
 * ```ts
 * import { createMailroom, loadConfig } from 'mailroom';
 * const mailroom = createMailroom(await loadConfig('mailroom.yaml'));
 * mailroom.workflows.register(orderSaga);
 * await mailroom.start();
 * const order = await mailroom.workflows.start('order', { sku: 'book', amount: 12 });
 * ```
 */
export function createMailroom(config: MailroomConfig, options: MailroomOptions = {}): MailroomClient {
  const early: { machine: AnyStateMachine; options?: WorkflowOptions }[] = [];
  const handlers: [string, string, Parameters<Mailroom['handle']>[2]][] = [];
  let running: Mailroom | undefined;
  let starting: Promise<Mailroom> | undefined;
  const need = (method: string): Mailroom => {
    if (!running) throw new MailroomNotStartedError(method);
    return running;
  };
  const workflows: Workflows = {
    register: (machine, workflowOptions) => {
      if (running) return running.workflows.register(machine, workflowOptions);
      const registered = registrationOf(machine, workflowOptions);
      early.push({ machine, ...(workflowOptions ? { options: workflowOptions } : {}) });
      return registered;
    },
    start: (name, input, startOptions) => need('workflows.start').workflows.start(name, input, startOptions),
    send: (id, event) => need('workflows.send').workflows.send(id, event),
    get: (id) => need('workflows.get').workflows.get(id),
    list: (filter) => need('workflows.list').workflows.list(filter),
    cancel: (id, reason) => need('workflows.cancel').workflows.cancel(id, reason),
    resume: (id) => need('workflows.resume').workflows.resume(id),
    waitFor: (id, until, waitOptions) => need('workflows.waitFor').workflows.waitFor(id, until, waitOptions),
    onChange: (listener) => need('workflows.onChange').workflows.onChange(listener),
    registered: () => (running ? running.workflows.registered() : early.map(({ machine, options: o }) => registrationOf(machine, o))),
  };
  return {
    get started() {
      return running !== undefined;
    },
    get runtime() {
      return need('runtime');
    },
    workflows,
    start: () =>
      (starting ??= (async () => {
        const mailroom = await startMailroom(config, { ...options, workflows: [...(options.workflows ?? []), ...early] });
        for (const [domain, subject, handler] of handlers) mailroom.handle(domain, subject, handler);
        running = mailroom;
        return mailroom;
      })().catch((error: unknown) => {
        starting = undefined;
        throw error;
      })),
    stop: async () => {
      const mailroom = running ?? (starting ? await starting.catch(() => undefined) : undefined);
      running = undefined;
      starting = undefined;
      await mailroom?.stop();
    },
    handle: (domain, subject, handler) => {
      if (running) running.handle(domain, subject, handler);
      else handlers.push([domain, subject, handler]);
    },
    accept: (...args) => need('accept').accept(...args),
    send: (...args) => need('send').send(...args),
    request: (request) => need('request').request(request),
    startConversation: (request) => need('startConversation').startConversation(request),
    publish: (event) => need('publish').publish(event),
    subscribe: (...args) => need('subscribe').subscribe(...args),
    unsubscribe: (...args) => need('unsubscribe').unsubscribe(...args),
    conversation: (...args) => need('conversation').conversation(...args),
    status: (...args) => need('status').status(...args),
    stats: () => need('stats').stats(),
    ready: () => need('ready').ready(),
    inboxMetrics: () => need('inboxMetrics').inboxMetrics(),
  };
}
