import type { KV } from '@nats-io/kv';
import { messageIds, subscriberOfKey, subscriptionFilter, subscriptionKey } from '../transport/names.ts';
import { isPut } from '../transport/kv-entries.ts';
import type { Envelope } from '../envelope/types.ts';
import { deterministicUuid, type DomainIdentity, type Outbound } from './outbound.ts';

/** What {@link Topics.publish} reports: one envelope per subscriber, each with its own correlation. */
export interface Publication {
  readonly topic: string;
  readonly eventId: string;
  readonly deliveries: readonly { readonly subscriber: string; readonly correlation: string }[];
}

/**
 * Publish/subscribe between domains. A subscription is (topic, domain), kept in the KV bucket
 * `mailroom-subscriptions` (so every process sees the same list) besides the ones in the
 * config. Publishing fans out: every subscriber gets its own signed envelope through the
 * outbox (Subject = the topic), so its own durable copy and its own envelope actor; a slow
 * or failing subscriber never holds back another. Deterministic IDs make a republish of the
 * same event a no-op.
 */
export class Topics {
  constructor(
    private readonly kv: KV,
    private readonly outbound: Outbound,
    private readonly configured: Readonly<Record<string, { subscribers: readonly string[] }>>,
  ) {}

  async subscribe(topic: string, domain: string): Promise<void> {
    await this.kv.put(subscriptionKey(topic, domain), '1');
  }

  async unsubscribe(topic: string, domain: string): Promise<void> {
    await this.kv.delete(subscriptionKey(topic, domain));
  }

  /** The subscribers of a topic: the config's and the ones subscribed at run time. */
  async subscribers(topic: string): Promise<string[]> {
    const found = new Set(this.configured[topic]?.subscribers ?? []);
    const keys = await this.kv.keys(subscriptionFilter(topic));
    for await (const key of keys) {
      const entry = await this.kv.get(key);
      if (isPut(entry)) found.add(subscriberOfKey(key));
    }
    return [...found].sort();
  }

  async publish(identity: DomainIdentity, topic: string, body: Envelope['Body'], eventId: string = crypto.randomUUID()): Promise<Publication> {
    const deliveries = await Promise.all(
      (await this.subscribers(topic)).map(async (subscriber) => {
        const key = messageIds.publish(identity.name, eventId, subscriber);
        const correlation = deterministicUuid(key);
        await this.outbound.publish(identity, { To: subscriber, Subject: topic, Body: body, Correlation: correlation }, 'send', key);
        return { subscriber, correlation };
      }),
    );
    return { topic, eventId, deliveries };
  }
}
