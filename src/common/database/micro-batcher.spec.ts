import { MicroBatcher } from './micro-batcher';

/** A batcher whose flush records each batch and answers `item * 10`. */
function recording(options: { maxSize?: number; key?: (n: number) => string } = {}) {
  const batches: number[][] = [];
  const batcher = new MicroBatcher<number, number>(
    async (items) => {
      batches.push(items);
      return items.map((n) => n * 10);
    },
    { maxSize: options.maxSize ?? 100, key: options.key },
  );
  return { batches, batcher };
}

const nextTurn = () => new Promise((resolve) => setImmediate(resolve));

describe('MicroBatcher', () => {
  it('hands the items of one turn to one flush and answers each with its own result', async () => {
    const { batches, batcher } = recording();
    const results = await Promise.all([1, 2, 3].map((n) => batcher.submit(n)));
    expect(results).toEqual([10, 20, 30]);
    expect(batches).toEqual([[1, 2, 3]]);
  });

  it('items of later turns go to later batches', async () => {
    const { batches, batcher } = recording();
    const first = batcher.submit(1);
    await nextTurn();
    const second = batcher.submit(2);
    expect(await Promise.all([first, second])).toEqual([10, 20]);
    expect(batches).toEqual([[1], [2]]);
  });

  it('keeps batches at maxSize', async () => {
    const { batches, batcher } = recording({ maxSize: 2 });
    expect(await Promise.all([1, 2, 3, 4, 5].map((n) => batcher.submit(n)))).toEqual([10, 20, 30, 40, 50]);
    expect(batches).toEqual([[1, 2], [3, 4], [5]]);
  });

  it('never puts two items with one key in a batch; the later one waits, in order', async () => {
    const { batches, batcher } = recording({ key: (n) => String(n % 2) });
    expect(await Promise.all([1, 3, 2, 5, 4].map((n) => batcher.submit(n)))).toEqual([10, 30, 20, 50, 40]);
    expect(batches).toEqual([[1, 2], [3, 4], [5]]);
  });

  it('fails every item of a batch whose flush throws, and only that batch', async () => {
    let calls = 0;
    const batcher = new MicroBatcher<number, number>(
      async (items) => {
        if (calls++ === 0) throw new Error('database gone');
        return items;
      },
      { maxSize: 2 },
    );
    const settled = await Promise.allSettled([1, 2, 3].map((n) => batcher.submit(n)));
    expect(settled.map((s) => s.status)).toEqual(['rejected', 'rejected', 'fulfilled']);
    expect((settled[0] as PromiseRejectedResult).reason).toEqual(new Error('database gone'));
  });

  describe('isolate: a batch one item made fail', () => {
    /** A flush whose statement fails whenever the batch holds a negative item, as a database refuses a bad value. */
    function poisonable(isolate?: (e: unknown) => boolean) {
      const batches: number[][] = [];
      const batcher = new MicroBatcher<number, number>(
        async (items) => {
          batches.push(items);
          if (items.some((n) => n < 0))
            throw Object.assign(new Error('invalid byte sequence'), { code: '22021' });
          return items.map((n) => n * 10);
        },
        { maxSize: 100, isolate },
      );
      return { batches, batcher };
    }

    it('flushes the items again one by one, so only the bad one fails', async () => {
      const { batches, batcher } = poisonable(() => true);
      const settled = await Promise.allSettled([1, 2, -1, 3].map((n) => batcher.submit(n)));
      expect(settled.map((s) => (s.status === 'fulfilled' ? s.value : 'failed'))).toEqual([
        10,
        20,
        'failed',
        30,
      ]);
      expect((settled[2] as PromiseRejectedResult).reason).toMatchObject({ code: '22021' });
      expect(batches).toEqual([[1, 2, -1, 3], [1], [2], [-1], [3]]);
    });

    it('not for errors it does not accept: the whole batch fails, nothing is flushed again', async () => {
      const { batches, batcher } = poisonable((e) => (e as { code?: string }).code !== '22021');
      const settled = await Promise.allSettled([1, -1].map((n) => batcher.submit(n)));
      expect(settled.map((s) => s.status)).toEqual(['rejected', 'rejected']);
      expect(batches).toEqual([[1, -1]]);
    });

    it('without the option every item fails with its batch', async () => {
      const { batcher } = poisonable();
      const settled = await Promise.allSettled([1, -1].map((n) => batcher.submit(n)));
      expect(settled.map((s) => s.status)).toEqual(['rejected', 'rejected']);
    });
  });

  it('fails the batch when flush answers the wrong number of results, rather than mismatching them', async () => {
    const batcher = new MicroBatcher<number, number>(async (items) => items.slice(1), { maxSize: 10 });
    const settled = await Promise.allSettled([1, 2].map((n) => batcher.submit(n)));
    expect(settled.every((s) => s.status === 'rejected')).toBe(true);
  });
});
