/**
 * For the failover test and bench: every stream and bucket of a Mailroom prefix raised to
 * `replicas`, waiting until each replica (and each consumer's) is current. Until the runtime
 * provisions replicas itself (`nats.replicas`), this is how a test gets R3 with today's runtime.
 */
import type { JetStreamManager } from '@nats-io/jetstream';
import { waitFor } from '../support/wait-for.ts';

export async function raiseReplicas(jsm: JetStreamManager, prefix: string, replicas: number): Promise<string[]> {
  const upper = prefix.toUpperCase();
  const lower = prefix.toLowerCase();
  const raised: string[] = [];
  for await (const info of jsm.streams.list()) {
    const name = info.config.name;
    if (!name.startsWith(`${upper}_`) && !name.startsWith(`KV_${lower}-`)) continue;
    if ((info.config.num_replicas || 1) < replicas) await jsm.streams.update(name, { num_replicas: replicas });
    raised.push(name);
  }
  for (const name of raised) {
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
  return raised;
}
