/**
 * `Mailroom.send`: signs an envelope as a hosted domain and puts it in the outbox, at once or,
 * with a delay, no earlier than asked (store and forward: signed now, held in a durable timer,
 * published to the outbox by {@link Sender.timerHandlers} when due).
 */
import type { JetStreamClient } from '@nats-io/jetstream';
import type { EnvelopeDraft } from '../envelope/index.ts';
import type { Envelope } from '../envelope/types.ts';
import { messageIds, type Names } from '../transport/names.ts';
import type { Domains } from './domains.ts';
import type { Outbound } from './outbound.ts';
import type { TimerHandler, Timers } from './timers.ts';

/** The timer kind of an envelope sent with a delay. */
export const DELAYED_SEND = 'send.delayed';

/** When to deliver: after `delayMs`, or no earlier than `notBefore` (epoch ms). */
export interface SendOptions {
  readonly delayMs?: number;
  readonly notBefore?: number;
}

export class Sender {
  constructor(
    private readonly parts: {
      readonly js: JetStreamClient;
      readonly names: Names;
      readonly outbound: Outbound;
      readonly timers: Timers;
      readonly domains: Domains;
      readonly now: () => number;
    },
  ) {}

  readonly send = async (draft: EnvelopeDraft & { From: string }, options: SendOptions = {}): Promise<Envelope> => {
    const { names, outbound, timers, domains, now } = this.parts;
    const identity = domains.identityOf(draft.From);
    const correlation = draft.Correlation ?? crypto.randomUUID();
    const msgId = messageIds.send(draft.From, correlation);
    const notBefore = options.notBefore ?? (options.delayMs !== undefined ? now() + options.delayMs : undefined);
    // A given correlation may be sent again (a workflow's redelivered task): signed once, see OutboundClaims.
    const claim = { claim: draft.Correlation !== undefined };
    if (notBefore === undefined || notBefore <= now()) return outbound.publish(identity, { ...draft, Correlation: correlation }, 'send', msgId, claim);
    // Store and forward: signed now, held in a durable timer, put in the outbox when due.
    const { envelope, bytes } = await outbound.signOnce(identity, { ...draft, Correlation: correlation }, msgId, claim);
    const data = Buffer.from(bytes).toString('base64');
    await timers.schedule(DELAYED_SEND, msgId, notBefore, { subject: names.outboxSubject(envelope.Header.To, envelope.Header.From), data, msgId });
    return envelope;
  };

  /** The timer handler that puts a delayed envelope in the outbox when it is due. */
  timerHandlers(): Record<string, TimerHandler> {
    return {
      [DELAYED_SEND]: async (payload) => {
        const { subject, data, msgId } = payload as { subject: string; data: string; msgId: string };
        await this.parts.js.publish(subject, Buffer.from(data, 'base64'), { msgID: msgId });
      },
    };
  }
}
