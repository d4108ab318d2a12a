import type { JetStreamManager } from '@nats-io/jetstream';
import type { NatsConnection, Subscription } from '@nats-io/transport-node';
import type { DeadLetters } from './dead-letters.ts';
import { maxDeliveriesAdvisorySubject, POISON_QUEUE_GROUP } from '../transport/names.ts';

/** `$JS.EVENT.ADVISORY.CONSUMER.MAX_DELIVERIES.<stream>.<consumer>` (io.nats.jetstream.advisory.v1.max_deliver). */
interface MaxDeliverAdvisory {
  readonly stream: string;
  readonly consumer: string;
  readonly stream_seq: number;
  readonly deliveries: number;
}

/**
 * Poison detection for what the envelope machine cannot see: a message whose every delivery
 * ended with its process (a crash, a kill, a hang past the ack wait) until the consumer's
 * `max_deliver` ran out. JetStream then stops delivering it and says so in an advisory; this
 * watcher dead-letters the stored message with reason `poison` and removes it from the work
 * queue. A queue group makes one process of many handle each advisory; the dead letter's
 * message ID makes a second handling a no-op.
 */
export function startPoisonWatcher(options: {
  nc: NatsConnection;
  jsm: JetStreamManager;
  consumers: readonly { stream: string; consumer: string }[];
  deadLetters: DeadLetters;
  onPoison?: (advisory: MaxDeliverAdvisory) => void;
  onError: (error: unknown, context: string) => void;
}): { stop(): void } {
  const handle = async (advisory: MaxDeliverAdvisory): Promise<void> => {
    const stored = await options.jsm.streams.getMessage(advisory.stream, { seq: advisory.stream_seq }).catch(() => undefined);
    if (!stored) return;
    await options.deadLetters.publishStored(
      { stream: advisory.stream, seq: advisory.stream_seq, subject: stored.subject, data: stored.data, attempts: advisory.deliveries },
      { reason: 'poison', lastState: 'unknown', detail: `delivered ${advisory.deliveries} times and never settled: each attempt ended with its process (crash, kill, or a hang past the ack wait)` },
      [],
    );
    await options.jsm.streams.deleteMessage(advisory.stream, advisory.stream_seq, false);
    options.onPoison?.(advisory);
  };
  const subscriptions: Subscription[] = options.consumers.map(({ stream, consumer }) =>
    options.nc.subscribe(maxDeliveriesAdvisorySubject(stream, consumer), {
      queue: POISON_QUEUE_GROUP,
      callback: (error, msg) => {
        if (error) return options.onError(error, 'poison advisories');
        handle(msg.json<MaxDeliverAdvisory>()).catch((e: unknown) => options.onError(e, `poison message ${stream} #${msg.json<MaxDeliverAdvisory>().stream_seq}`));
      },
    }),
  );
  return { stop: () => subscriptions.forEach((s) => s.unsubscribe()) };
}
