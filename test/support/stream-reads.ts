/** Reads what the runtime left in JetStream, for tests that check it directly. */
import { jetstreamManager } from '@nats-io/jetstream';
import { Kvm } from '@nats-io/kv';
import type { NatsConnection } from '@nats-io/transport-node';
import type { EnvelopeStatus } from '../../src/runtime/status-store.ts';

/** Every message still in a stream, parsed as JSON, oldest first. */
export async function readStream<T>(nc: NatsConnection, stream: string): Promise<T[]> {
  const jsm = await jetstreamManager(nc);
  const { state } = await jsm.streams.info(stream);
  const found: T[] = [];
  if (state.messages === 0) return found;
  for (let seq = state.first_seq; seq <= state.last_seq; seq++) {
    const msg = await jsm.streams.getMessage(stream, { seq }).catch(() => undefined);
    if (msg) found.push(msg.json<T>());
  }
  return found;
}

/** Every envelope status in a status bucket. */
export async function readStatuses(nc: NatsConnection, bucket: string): Promise<EnvelopeStatus[]> {
  const kv = await new Kvm(nc).open(bucket);
  const found: EnvelopeStatus[] = [];
  for await (const key of await kv.keys()) {
    const entry = await kv.get(key);
    if (entry?.operation === 'PUT') found.push(entry.json<EnvelopeStatus>());
  }
  return found;
}
