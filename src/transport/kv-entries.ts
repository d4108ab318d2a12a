/**
 * Reading a KV entry: a `get` returns `null` for a key never written, and an entry whose
 * `operation` is `DEL` or `PURGE` for one deleted (or purged); only a `PUT` holds a value.
 * And where a `get` goes: direct get where that is consistent, the stream leader otherwise.
 */
import type { JetStreamManager, StreamInfo } from '@nats-io/jetstream';
import type { Bucket, KvEntry } from '@nats-io/kv';
import { NoRespondersError, RequestError, TimeoutError } from '@nats-io/transport-node';

/** True when the key holds a value (a `PUT`, possibly empty): it exists and was not deleted or purged. */
export function isPut(entry: KvEntry | null | undefined): entry is KvEntry {
  return entry !== null && entry !== undefined && entry.operation === 'PUT';
}

/** The entry when it holds a non-empty value; `undefined` for none, a delete or purge marker, or an empty value. */
export function liveEntry(entry: KvEntry | null | undefined): KvEntry | undefined {
  return isPut(entry) && entry.length > 0 ? entry : undefined;
}

/**
 * Whether reads of a bucket go to `$JS.API.DIRECT.GET` (a raw message; a missing key is a
 * 404 status, not an error with a stack) rather than to the stream leader
 * (`$JS.API.STREAM.MSG.GET`). Only when the stream allows it and has one copy, not moving:
 * that copy is the only one, so always current. With replicas, nats-server (2.9.10,
 * `monitorStream` in `jetstream_cluster.go`) lets a follower join the direct-get queue group
 * once it is current or 90 % caught up, and it never leaves: a follower may answer without a
 * write the leader has acknowledged, and the replay claim's read after a failed create would
 * find no claim.
 */
export function readsDirect(info: StreamInfo): boolean {
  return info.config.allow_direct === true && info.config.num_replicas === 1 && (info.cluster?.replicas ?? []).length === 0;
}

/**
 * A direct get nobody answered: no stream copy subscribed (direct turned off, the stream moving),
 * or lost in transit. With direct get off, nats-server 2.9 lets the request time out (the
 * `$JS.API.>` import has interest in it): it is not a "no responders".
 */
const unanswered = (e: unknown) => e instanceof TimeoutError || e instanceof NoRespondersError || (e instanceof RequestError && e.isNoResponders());

/**
 * Makes `kv`'s direct gets fall back to the leader: one nobody answers (another process turned
 * direct get off to rescale or move the bucket: one request timeout, once) is read again from
 * the leader, and the stream's info decides again how later reads go (one info at a time):
 * from the leader until it is read, and when it cannot be read. @internal
 */
export function leaderWhenDirectUnanswered(kv: Bucket, jsm: JetStreamManager): Bucket {
  const get = kv.get.bind(kv);
  let deciding: Promise<void> | undefined;
  const decideAgain = () =>
    (deciding ??= jsm.streams
      .info(kv.stream)
      .then(readsDirect, () => false)
      .then((direct) => {
        kv.direct = direct;
        deciding = undefined;
      }));
  kv.get = async (key, opts) => {
    if (!kv.direct) return get(key, opts);
    try {
      return await get(key, opts);
    } catch (e) {
      if (!unanswered(e)) throw e;
      kv.direct = false;
      void decideAgain();
      return get(key, opts);
    }
  };
  return kv;
}
