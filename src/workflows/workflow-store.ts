/**
 * Workflow records and correlation links in the workflows KV bucket: reads, revision-checked
 * writes, one-pass listing, waiting for one record to change.
 */
import type { KV, KvEntry } from '@nats-io/kv';
import type { Names } from '../transport/names.ts';
import { liveEntry } from '../transport/kv-entries.ts';
import { isAlreadyExists } from '../runtime/status-store.ts';
import { TransportError } from '../errors.ts';
import { WorkflowAlreadyExistsError, WorkflowWaitTimeoutError } from './workflow-errors.ts';
import { toInfo, type CorrelationLink, type WorkflowRecord } from './workflow-record.ts';
import type { WorkflowInfo } from './workflow-types.ts';

/** The value of a live entry (see {@link liveEntry}); `undefined` for none, a delete or purge marker, or an empty value. */
function decode<T>(entry: KvEntry | null): T | undefined {
  return liveEntry(entry)?.json<T>();
}

/** The workflows bucket, as records. */
export class WorkflowStore {
  readonly #kv: KV;
  readonly #names: Names;

  constructor(kv: KV, names: Names) {
    this.#kv = kv;
    this.#names = names;
  }

  async get(id: string): Promise<WorkflowRecord | undefined> {
    return decode<WorkflowRecord>(await this.#kv.get(this.#names.workflowKey(id)));
  }

  /** The record with the revision to update it at. */
  async read(id: string): Promise<{ readonly record: WorkflowRecord; readonly revision: number } | undefined> {
    const entry = await this.#kv.get(this.#names.workflowKey(id));
    const record = decode<WorkflowRecord>(entry);
    return entry && record ? { record, revision: entry.revision } : undefined;
  }

  /**
   * The record, waiting a few milliseconds for the step `seq` when it is not visible yet: a task
   * is published just before its step is stored, and is often here first.
   */
  async readAtLeast(id: string, seq: number): Promise<WorkflowRecord | undefined> {
    let record = await this.get(id);
    for (let tries = 0; tries < 8 && (!record || record.seq < seq); tries++) {
      await new Promise((resolve) => setTimeout(resolve, 2 + tries * 2));
      record = await this.get(id);
    }
    return record;
  }

  /** Stores a new workflow; throws {@link WorkflowAlreadyExistsError} when its ID is taken. */
  async create(record: WorkflowRecord): Promise<void> {
    try {
      await this.#kv.create(this.#names.workflowKey(record.id), JSON.stringify(record));
    } catch (error) {
      if (isAlreadyExists(error)) throw new WorkflowAlreadyExistsError(record.id);
      throw new TransportError(`could not store workflow ${record.id}`, { cause: error });
    }
  }

  /** Stores a step if the record is still at `revision`; false when another writer stored one first. */
  async update(record: WorkflowRecord, revision: number): Promise<boolean> {
    try {
      await this.#kv.update(this.#names.workflowKey(record.id), JSON.stringify(record), revision);
      return true;
    } catch (error) {
      if (isAlreadyExists(error)) return false;
      throw new TransportError(`could not store workflow ${record.id}`, { cause: error });
    }
  }

  /** Every workflow record, read in one pass over the bucket (a watch of the last values), not one get per key. */
  async all(): Promise<WorkflowRecord[]> {
    let count = 0;
    for await (const _key of await this.#kv.keys('w.>')) count++;
    if (count === 0) return [];
    const records: WorkflowRecord[] = [];
    const watcher = await this.#kv.watch({ key: 'w.>', ignoreDeletes: true });
    for await (const entry of watcher) {
      const record = decode<WorkflowRecord>(entry);
      if (record) records.push(record);
      // `delta` counts what is left of the initial values: 0 is the newest, so the pass is complete.
      if (entry.delta === 0 || records.length >= count) break;
    }
    watcher.stop();
    return records;
  }

  /** The workflow once it satisfies `test` (checked now and after each change); throws {@link WorkflowWaitTimeoutError} after `timeoutMs`. */
  async waitFor(id: string, test: (info: WorkflowInfo) => boolean, timeoutMs: number): Promise<WorkflowInfo> {
    const watcher = await this.#kv.watch({ key: this.#names.workflowKey(id) });
    let last: WorkflowInfo | undefined;
    const timer = setTimeout(() => watcher.stop(), timeoutMs);
    try {
      for await (const entry of watcher) {
        const record = decode<WorkflowRecord>(entry);
        if (!record) continue;
        last = toInfo(record);
        if (test(last)) return last;
      }
    } finally {
      clearTimeout(timer);
      watcher.stop();
    }
    throw new WorkflowWaitTimeoutError(id, timeoutMs, last ? { status: last.status, state: last.state } : undefined);
  }

  async link(correlation: string, link: CorrelationLink): Promise<void> {
    await this.#kv.put(this.#names.workflowCorrelationKey(correlation), JSON.stringify(link));
  }

  async linkOf(correlation: string): Promise<CorrelationLink | undefined> {
    return decode<CorrelationLink>(await this.#kv.get(this.#names.workflowCorrelationKey(correlation)));
  }
}
