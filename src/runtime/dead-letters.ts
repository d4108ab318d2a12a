import type { JetStreamClient, JsMsg } from '@nats-io/jetstream';
import { headers } from '@nats-io/transport-node';
import { TransportError } from '../errors.ts';
import type { StatusStep } from './status-store.ts';

/** A dead letter as stored in `MAILROOM_DLQ`: why, where it stopped, how often it was tried, and the original bytes. */
export interface DeadLetterRecord {
  readonly reason: string;
  readonly lastState: string;
  readonly detail: string;
  readonly attempts: number;
  readonly history: readonly StatusStep[];
  readonly stream: string;
  readonly streamSequence: number;
  readonly subject: string;
  readonly deadLetteredAt: string;
  /** The original envelope bytes, base64. */
  readonly data: string;
}

/** Publishes dead letters with a deterministic message ID (one dead letter per stored message). */
export class DeadLetters {
  constructor(
    private readonly js: JetStreamClient,
    private readonly dlqSubjectFor: (msg: JsMsg) => string,
  ) {}

  async publish(msg: JsMsg, deadLetter: { readonly reason: string; readonly lastState: string; readonly detail: string }, history: readonly StatusStep[]): Promise<void> {
    const record: DeadLetterRecord = {
      reason: deadLetter.reason,
      lastState: deadLetter.lastState,
      detail: deadLetter.detail,
      attempts: msg.info.deliveryCount,
      history,
      stream: msg.info.stream,
      streamSequence: msg.seq,
      subject: msg.subject,
      deadLetteredAt: new Date().toISOString(),
      data: Buffer.from(msg.data).toString('base64'),
    };
    const h = headers();
    h.set('Mailroom-Reason', deadLetter.reason);
    h.set('Mailroom-Last-State', deadLetter.lastState);
    h.set('Mailroom-Attempts', String(record.attempts));
    try {
      await this.js.publish(this.dlqSubjectFor(msg), JSON.stringify(record), { msgID: `dlq/${msg.info.stream}/${msg.seq}`, headers: h });
    } catch (cause) {
      throw new TransportError('could not publish the dead letter', { cause });
    }
  }
}
