import type { JetStreamManager } from '@nats-io/jetstream';
import type { Names } from '../transport/names.ts';

/**
 * Envelopes in the inbox per addressed domain (waiting, or delivered and not yet acked). With
 * per-domain inbox consumers, an envelope to a domain no process hosts stays here, untouched,
 * until a process hosting it starts (or the inbox's `maxAge` drops it): this shows how many.
 * One stream-info request; its size grows with the inbox's distinct `<to>.<from>` subjects.
 */
export async function inboxByDomain(jsm: JetStreamManager, names: Pick<Names, 'streams' | 'streamSubjects' | 'parseSubject'>): Promise<Map<string, number>> {
  const info = await jsm.streams.info(names.streams.inbox, { subjects_filter: names.streamSubjects.inbox });
  const counts = new Map<string, number>();
  for (const [subject, n] of Object.entries(info.state.subjects ?? {})) {
    const to = names.parseSubject(subject)?.to;
    if (to !== undefined) counts.set(to, (counts.get(to) ?? 0) + n);
  }
  return counts;
}
