import { requestWork } from '../http/request-scope';

/** How a MicroBatcher forms its batches. */
export interface BatchOptions<I> {
  /** Items with equal keys never share a batch: a later one waits for the next batch. */
  key?: (item: I) => string;
  /** Items per batch at most. */
  maxSize: number;
  /**
   * When a batch of several items fails with an error this accepts (one that one item's data may
   * have caused), its items are flushed again one by one: an item that makes the batch fail then
   * fails alone, and the others get their own results. Without it, every item fails with the batch.
   * Only for flushes that change nothing when they fail (one atomic statement, say).
   */
  isolate?: (error: unknown) => boolean;
}

interface Pending<I, O> {
  item: I;
  resolve: (value: O) => void;
  reject: (error: unknown) => void;
}

/**
 * Gathers the items submitted in one turn of the event loop and hands them to `flush` as one batch:
 * under load, the requests that arrived together share one database round trip (or one commit)
 * instead of paying for one each; alone, an item waits no longer than the end of the turn.
 * `flush` answers one result per item, in order; if it throws, every item of the batch fails with
 * its error, unless `isolate` has the items flushed again one by one. Batches run concurrently; one
 * item's key appears at most once per batch.
 */
export class MicroBatcher<I, O> {
  private pending: Pending<I, O>[] = [];
  private scheduled = false;

  constructor(
    private readonly flush: (items: I[]) => O[] | Promise<O[]>,
    private readonly options: BatchOptions<I>,
  ) {}

  /** Its request's deadline waits for the item; refused once that deadline has passed (see requestWork). */
  submit(item: I): Promise<O> {
    return requestWork(
      () =>
        new Promise<O>((resolve, reject) => {
          this.pending.push({ item, resolve, reject });
          this.schedule();
        }),
    );
  }

  private schedule(): void {
    if (this.scheduled) return;
    this.scheduled = true;
    // after the I/O callbacks of this turn, so that what arrived with this item can join it
    setImmediate(() => {
      this.scheduled = false;
      this.drain();
    });
  }

  private drain(): void {
    const batch: Pending<I, O>[] = [];
    const rest: Pending<I, O>[] = [];
    const keys = new Set<string>();
    for (const p of this.pending) {
      const key = this.options.key?.(p.item);
      if (batch.length >= this.options.maxSize || (key !== undefined && keys.has(key))) {
        rest.push(p);
        continue;
      }
      if (key !== undefined) keys.add(key);
      batch.push(p);
    }
    this.pending = rest;
    if (rest.length > 0) this.schedule();
    void this.run(batch);
  }

  private async run(batch: Pending<I, O>[]): Promise<void> {
    let results: O[];
    try {
      results = await this.flush(batch.map((p) => p.item));
      if (results.length !== batch.length)
        throw new Error(`batch of ${batch.length} answered ${results.length} results`);
    } catch (error) {
      if (batch.length > 1 && this.options.isolate?.(error)) {
        // one after the other: a rare path, and it should not crowd the pool the batch saved
        for (const p of batch) await this.run([p]);
        return;
      }
      for (const p of batch) p.reject(error);
      return;
    }
    batch.forEach((p, i) => p.resolve(results[i]));
  }
}
