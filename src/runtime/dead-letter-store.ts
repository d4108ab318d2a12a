import type { JetStreamClient, JetStreamManager } from '@nats-io/jetstream';
import { headers } from '@nats-io/transport-node';
import { messageIds, REPLAY_OF_HEADER, REPLAYED_BY_HEADER, type Names } from '../transport/names.ts';
import type { DeadLetterRecord } from './dead-letters.ts';

/** A dead letter as listed: its id (the DLQ stream sequence) and record, and what the envelope was. */
export interface DeadLetter extends DeadLetterRecord {
  readonly id: number;
  readonly envelope: { readonly from?: string; readonly to?: string; readonly subject?: string; readonly correlation?: string };
}

/** The outcome of a replay: where the envelope went back to. */
export interface ReplayResult {
  readonly id: number;
  readonly subject: string;
  readonly sequence: number;
}

function summary(data: Buffer): DeadLetter['envelope'] {
  try {
    const { Header } = JSON.parse(data.toString('utf8')) as { Header?: Record<string, unknown> };
    const field = (name: string) => (typeof Header?.[name] === 'string' ? { [name.toLowerCase()]: Header[name] as string } : {});
    return { ...field('From'), ...field('To'), ...field('Subject'), ...field('Correlation') };
  } catch (_) {
    return {};
  }
}

/** Options of {@link DeadLetterStore.replay}. */
export interface ReplayOptions {
  /** Who replays (an admin token id, `cli`); shown in the envelope's status as the `replayed` step's `by`. Default `api`. */
  readonly by?: string;
}

/**
 * Lists, shows, replays and purges the dead letters in `MAILROOM_DLQ`. A replay puts the
 * original bytes back on the subject they came from (the inbox, or the outbox for a failed
 * delivery), so a fresh actor (or delivery) runs, keeping the correlation. The replayed
 * envelope's signature is verified again, its freshness window is not (it is the same
 * envelope: the replay guard's claim holds its Hash, so it is not a replay either).
 */
export class DeadLetterStore {
  constructor(
    private readonly js: JetStreamClient,
    private readonly jsm: JetStreamManager,
    private readonly names: Names,
  ) {}

  async list(options: { limit?: number } = {}): Promise<DeadLetter[]> {
    const stream = this.names.streams.dlq;
    const info = await this.jsm.streams.info(stream);
    const limit = options.limit ?? 100;
    const found: DeadLetter[] = [];
    // Newest first.
    for (let seq = info.state.last_seq; seq >= info.state.first_seq && found.length < limit && info.state.messages > 0; seq--) {
      const letter = await this.get(seq);
      if (letter) found.push(letter);
    }
    return found;
  }

  async get(id: number): Promise<DeadLetter | undefined> {
    const msg = await this.jsm.streams.getMessage(this.names.streams.dlq, { seq: id }).catch(() => undefined);
    if (!msg) return undefined;
    const record = msg.json<DeadLetterRecord>();
    return { id, ...record, envelope: summary(Buffer.from(record.data, 'base64')) };
  }

  async replay(id: number, options: ReplayOptions = {}): Promise<ReplayResult | undefined> {
    const letter = await this.get(id);
    if (!letter) return undefined;
    const h = headers();
    h.set(REPLAY_OF_HEADER, String(id));
    h.set(REPLAYED_BY_HEADER, options.by || 'api');
    const ack = await this.js.publish(letter.subject, Buffer.from(letter.data, 'base64'), { msgID: messageIds.replay(this.names.streams.dlq, id), headers: h });
    await this.jsm.streams.deleteMessage(this.names.streams.dlq, id, false);
    return { id, subject: letter.subject, sequence: ack.seq };
  }

  /** Deletes one dead letter, or all of them without an id. Returns how many went. */
  async purge(id?: number): Promise<number> {
    if (id !== undefined) return (await this.jsm.streams.deleteMessage(this.names.streams.dlq, id, false).catch(() => false)) ? 1 : 0;
    return (await this.jsm.streams.purge(this.names.streams.dlq)).purged;
  }
}
