import * as pg from 'pg';

/** `code` of the error a connection request gets when the pool's wait queue is full. */
export const POOL_QUEUE_FULL = 'EPOOLQUEUEFULL';
/** The message pg gives a query whose `query_timeout` passed (the server never answered). */
export const QUERY_READ_TIMEOUT = 'Query read timeout';

type Callback = (
  err: Error | undefined,
  client?: pg.PoolClient,
  release?: (err?: Error | boolean) => void,
) => void;

/**
 * The pg module TypeORM is given (its `driver` option) instead of the plain one. Its Pool
 * - refuses a connection request at once (error code POOL_QUEUE_FULL) when every connection is busy and
 *   `maxWaiting` requests already wait: under overload or with a stuck database, callers get a fast
 *   answer instead of a queue that grows without limit;
 * - closes a connection whose query ran into the client-side `query_timeout`: the server never
 *   answered it, so the connection may still carry that statement and must not serve anyone else.
 */
export function boundedPg(maxWaiting: number): typeof pg {
  class BoundedPool extends pg.Pool {
    constructor(config?: pg.PoolConfig) {
      super(config);
      this.on('connect', (client) => closeOnReadTimeout(client));
    }

    override connect(): Promise<pg.PoolClient>;
    override connect(callback: Callback): void;
    override connect(callback?: Callback): Promise<pg.PoolClient> | void {
      const max = this.options.max ?? 10;
      if (this.idleCount === 0 && this.totalCount >= max && this.waitingCount >= maxWaiting) {
        const err = Object.assign(new Error('too many requests wait for a database connection'), {
          code: POOL_QUEUE_FULL,
        });
        if (!callback) return Promise.reject(err);
        process.nextTick(() => callback(err));
        return;
      }
      return callback ? super.connect(callback as never) : super.connect();
    }
  }
  return { ...pg, Pool: BoundedPool } as typeof pg;
}

function closeOnReadTimeout(client: pg.PoolClient): void {
  const query = client.query.bind(client) as (...args: unknown[]) => unknown;
  const close = (err: unknown) => {
    if (err instanceof Error && err.message === QUERY_READ_TIMEOUT) {
      (client as unknown as { connection?: { stream?: { destroy(): void } } }).connection?.stream?.destroy();
    }
  };
  (client as unknown as { query: (...args: unknown[]) => unknown }).query = (...args: unknown[]) => {
    const last = args.length - 1;
    const callback = args[last];
    if (typeof callback === 'function') {
      args[last] = (err: unknown, res: unknown) => {
        close(err);
        (callback as (e: unknown, r: unknown) => void)(err, res);
      };
      return query(...args);
    }
    const result = query(...args);
    if (result instanceof Promise) {
      return result.catch((err: unknown) => {
        close(err);
        throw err;
      });
    }
    return result;
  };
}
