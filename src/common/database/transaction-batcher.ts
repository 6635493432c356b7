import { AsyncLocalStorage } from 'node:async_hooks';
import { DataSource, EntityManager } from 'typeorm';
import { dialectOf, retryOnDeadlock } from './db-dialect';
import { MicroBatcher } from './micro-batcher';
import { mayBeOneRowsFault } from './pg-errors';
import type { TransactionRunner } from './transaction-runner';

/** Items per PostgreSQL transaction at most. */
const BATCH = 64;

/**
 * Runs a unit of work per item that `work` does for many items at once, in a transaction: the work is
 * written for a batch (one statement for all items where the database allows it), so
 *
 * - PostgreSQL: the items that arrive in one turn of the event loop share one transaction
 *   (MicroBatcher), so a busy service pays the transaction's round trips and each batched statement
 *   once per batch instead of once per item. The row locks the work takes still last until its
 *   COMMIT, so a second request on the same row waits for the first one's outcome as it would in a
 *   transaction of its own. Items with the same key never share a batch (one row, or one event
 *   aggregate, per key); each batch handles its items in key order, so concurrent batches usually lock
 *   rows in one order, and a batch that still loses a deadlock runs again from the start (nothing of it
 *   was stored). A batch that fails for what one item held (a value the database refuses) runs again
 *   item by item, so that item alone fails.
 * - SQLite: each item is a unit of TransactionRunner on its own (which already shares one COMMIT among
 *   the units that arrive together), so `work` gets a batch of one.
 *
 * `work` answers one result per item, in order. It must not throw for one item's outcome (return it
 * instead): a throw undoes the whole batch and fails each of its items.
 */
export class TransactionBatcher<I, O> {
  private readonly batcher?: MicroBatcher<I, O>;

  constructor(
    ds: DataSource,
    private readonly runner: TransactionRunner,
    private readonly work: (em: EntityManager, items: I[]) => Promise<O[]>,
    private readonly key: (item: I) => string,
  ) {
    if (dialectOf(ds) !== 'postgres') return;
    // A batch serves several requests: it runs in the context it was built in, none of theirs.
    const outside = AsyncLocalStorage.snapshot();
    this.batcher = new MicroBatcher<I, O>(
      (items) => outside(() => retryOnDeadlock(() => runner.transaction((em) => this.inKeyOrder(em, items)))),
      { key, maxSize: BATCH, isolate: mayBeOneRowsFault },
    );
  }

  /** The item's result, once the transaction it ran in has committed. */
  async submit(item: I): Promise<O> {
    if (this.batcher) return this.batcher.submit(item);
    const [result] = await this.runner.run((em) => this.work(em, [item]));
    return result;
  }

  private async inKeyOrder(em: EntityManager, items: I[]): Promise<O[]> {
    const order = items.map((item, i) => ({ i, key: this.key(item) }));
    order.sort((x, y) => (x.key < y.key ? -1 : x.key > y.key ? 1 : 0));
    const results = await this.work(
      em,
      order.map(({ i }) => items[i]),
    );
    if (results.length !== items.length)
      throw new Error(`batch of ${items.length} answered ${results.length} results`);
    const answered = new Array<O>(items.length);
    order.forEach(({ i }, n) => (answered[i] = results[n]));
    return answered;
  }
}
