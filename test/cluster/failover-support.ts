/**
 * For the failover test and bench: waits until every stream and bucket of a Mailroom prefix,
 * provisioned by the runtime with `nats.replicas`, has a leader and `replicas - 1` current
 * followers (its consumers too). Throws if one was provisioned with fewer replicas: the
 * runtime's provisioning is what is tested, nothing here raises them.
 */
import type { JetStreamManager } from '@nats-io/jetstream';
import { waitFor } from '../support/wait-for.ts';

export async function awaitReplicas(jsm: JetStreamManager, prefix: string, replicas: number): Promise<string[]> {
  const upper = prefix.toUpperCase();
  const lower = prefix.toLowerCase();
  const names: string[] = [];
  for await (const info of jsm.streams.list()) {
    const name = info.config.name;
    if (!name.startsWith(`${upper}_`) && !name.startsWith(`KV_${lower}-`)) continue;
    if ((info.config.num_replicas || 1) !== replicas) throw new Error(`${name} was provisioned with ${info.config.num_replicas || 1} replicas, not ${replicas}`);
    names.push(name);
  }
  for (const name of names) {
    await waitFor(
      async () => {
        const info = await jsm.streams.info(name);
        const current = (info.cluster?.replicas ?? []).filter((r) => r.current).length;
        if (!info.cluster?.leader || current < replicas - 1) return false;
        for await (const c of jsm.consumers.list(name)) {
          if (!c.cluster?.leader || (c.cluster.replicas ?? []).filter((r) => r.current).length < replicas - 1) return false;
        }
        return true;
      },
      { what: `${name} at ${replicas} current replicas, its consumers too`, timeoutMs: 30_000 },
    );
  }
  return names;
}

/** Where the leaders of a prefix's streams and consumers are, by server name: for a report. */
export async function leaderSpread(jsm: JetStreamManager, prefix: string): Promise<Record<string, number>> {
  const upper = prefix.toUpperCase();
  const lower = prefix.toLowerCase();
  const spread: Record<string, number> = {};
  const count = (leader?: string) => leader && (spread[leader] = (spread[leader] ?? 0) + 1);
  for await (const info of jsm.streams.list()) {
    const name = info.config.name;
    if (!name.startsWith(`${upper}_`) && !name.startsWith(`KV_${lower}-`)) continue;
    count(info.cluster?.leader);
    for await (const c of jsm.consumers.list(name)) count(c.cluster?.leader);
  }
  return spread;
}
