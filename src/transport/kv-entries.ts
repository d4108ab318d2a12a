/**
 * Reading a KV entry: a `get` returns `null` for a key never written, and an entry whose
 * `operation` is `DEL` or `PURGE` for one deleted (or purged); only a `PUT` holds a value.
 */
import type { KvEntry } from '@nats-io/kv';

/** True when the key holds a value (a `PUT`, possibly empty): it exists and was not deleted or purged. */
export function isPut(entry: KvEntry | null | undefined): entry is KvEntry {
  return entry !== null && entry !== undefined && entry.operation === 'PUT';
}

/** The entry when it holds a non-empty value; `undefined` for none, a delete or purge marker, or an empty value. */
export function liveEntry(entry: KvEntry | null | undefined): KvEntry | undefined {
  return isPut(entry) && entry.length > 0 ? entry : undefined;
}
