import { AsyncLocalStorage } from 'node:async_hooks';
import { DataSource } from 'typeorm';
import { dialectOf } from './db-dialect';
import { MicroBatcher } from './micro-batcher';

/** Keys per shared read at most. */
const BATCH = 128;

/**
 * Reads by key (the rows of one key: a user, a token) that share their SELECT when they arrive
 * together. PostgreSQL, where each statement is a round trip: the keys asked in one turn of the event
 * loop are read by one statement (`many`, e.g. `WHERE id = ANY($1)`), and each caller gets the rows of
 * its own key (`keyOf`). SQLite: each key by `one`, synchronous and cheap. Reads only, outside any
 * transaction: a caller sees what was committed when the shared SELECT ran.
 */
export class BatchedReads<R> {
  private readonly batcher?: MicroBatcher<string, R[]>;

  constructor(
    ds: DataSource,
    private readonly one: (key: string) => Promise<R[]>,
    many: (keys: string[]) => Promise<R[]>,
    keyOf: (row: R) => string,
  ) {
    if (dialectOf(ds) !== 'postgres') return;
    // A shared read serves several requests: it runs in the context it was built in, none of theirs.
    const outside = AsyncLocalStorage.snapshot();
    this.batcher = new MicroBatcher<string, R[]>(
      (keys) =>
        outside(async () => {
          const rows = await many([...new Set(keys)]);
          const byKey = new Map<string, R[]>();
          for (const row of rows) {
            const key = keyOf(row);
            const list = byKey.get(key);
            if (list) list.push(row);
            else byKey.set(key, [row]);
          }
          return keys.map((k) => byKey.get(k) ?? []);
        }),
      { maxSize: BATCH },
    );
  }

  /** The rows of `key` (none when there are none). */
  get(key: string): Promise<R[]> {
    return this.batcher ? this.batcher.submit(key) : this.one(key);
  }
}
