import type { JetStreamClient, JsMsg } from '@nats-io/jetstream';
import { headers } from '@nats-io/transport-node';
import { TransportError } from '../errors.ts';
import { ATTEMPTS_HEADER, LAST_REASON_HEADER, LAST_STATE_HEADER, messageIds, REASON_HEADER } from '../transport/names.ts';
import type { StatusStep } from './status-store.ts';

/** A dead letter as stored in `MAILROOM_DLQ`: why, where it stopped, how often it was tried, and the original bytes. */
export interface DeadLetterRecord {
  readonly reason: string;
  readonly lastState: string;
  /** The named reason of the last failure, when it had one (e.g. `handler-timeout`). */
  readonly lastReason?: string;
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

/** Why a message is dead-lettered. */
export interface DeadLetterReason {
  readonly reason: string;
  readonly lastState: string;
  readonly lastReason?: string;
  readonly detail: string;
}

/** Publishes dead letters with a deterministic message ID (one dead letter per stored message). */
export class DeadLetters {
  constructor(
    private readonly js: JetStreamClient,
    private readonly dlqSubjectFor: (msg: { subject: string }) => string,
  ) {}

  async publish(msg: JsMsg, deadLetter: DeadLetterReason, history: readonly StatusStep[]): Promise<void> {
    await this.publishStored({ stream: msg.info.stream, seq: msg.seq, subject: msg.subject, data: msg.data, attempts: msg.info.deliveryCount }, deadLetter, history);
  }

  /** Dead-letters a stored message by its stream sequence (for one no consumer holds, e.g. a poison message). */
  async publishStored(
    stored: { stream: string; seq: number; subject: string; data: Uint8Array; attempts: number },
    deadLetter: DeadLetterReason,
    history: readonly StatusStep[],
  ): Promise<void> {
    const msg = { subject: stored.subject, seq: stored.seq };
    const record: DeadLetterRecord = {
      reason: deadLetter.reason,
      lastState: deadLetter.lastState,
      ...(deadLetter.lastReason ? { lastReason: deadLetter.lastReason } : {}),
      detail: deadLetter.detail,
      attempts: stored.attempts,
      history,
      stream: stored.stream,
      streamSequence: stored.seq,
      subject: stored.subject,
      deadLetteredAt: new Date().toISOString(),
      data: Buffer.from(stored.data).toString('base64'),
    };
    const h = headers();
    h.set(REASON_HEADER, deadLetter.reason);
    h.set(LAST_STATE_HEADER, deadLetter.lastState);
    if (deadLetter.lastReason) h.set(LAST_REASON_HEADER, deadLetter.lastReason);
    h.set(ATTEMPTS_HEADER, String(record.attempts));
    try {
      await this.js.publish(this.dlqSubjectFor(msg), JSON.stringify(record), { msgID: messageIds.deadLetter(stored.stream, stored.seq), headers: h });
    } catch (cause) {
      throw new TransportError('could not publish the dead letter', { cause });
    }
  }
}
