import { randomBytes } from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { Client } from 'pg';
import { DataSource, EntityManager, QueryFailedError } from 'typeorm';
import { DatabaseConfig } from '../src/common/config/app-config';
import { BatchedReads } from '../src/common/database/batched-reads';
import { buildDataSourceOptions } from '../src/common/database/data-source';
import { isUniqueViolation, rawQuery } from '../src/common/database/db-dialect';
import { postgresPool } from '../src/common/database/driver-handle';
import { TransactionRunner } from '../src/common/database/transaction-runner';
import { dependencyUnavailable } from '../src/common/errors/dependency-unavailable';
import { DEADLINE_EXCEEDED, RequestScope, runInScope } from '../src/common/http/request-scope';
import { E2E_DB, PG_URL } from './helpers/test-app';

/**
 * rawQuery and TransactionRunner on the database of the project that runs this file (a SQLite file,
 * or a schema of the PostgreSQL server at TEST_DATABASE_URL), with the data source options the
 * service itself builds (on PostgreSQL: the bounded pool and its statement timeout).
 */
describe(`database layer on ${E2E_DB}`, () => {
  const schema = `dbl_${process.pid}_${randomBytes(4).toString('hex')}`;
  let dir: string;
  let ds: DataSource;
  let runner: TransactionRunner;

  beforeAll(async () => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'db-layer-'));
    if (E2E_DB === 'postgres') {
      const admin = new Client({ connectionString: PG_URL });
      await admin.connect();
      await admin.query(`CREATE SCHEMA "${schema}"`);
      await admin.end();
    }
    const config: DatabaseConfig =
      E2E_DB === 'postgres'
        ? {
            type: 'postgres',
            url: PG_URL,
            schema,
            poolSize: 3,
            bounds: { connectTimeoutMs: 2000, statementTimeoutMs: 1000, maxWaiting: 50 },
          }
        : { type: 'sqlite', path: path.join(dir, 'db.sqlite') };
    ds = new DataSource(buildDataSourceOptions(config, [], []));
    await ds.initialize();
    await ds.query('CREATE TABLE t (k TEXT PRIMARY KEY, v INTEGER NOT NULL)');
    runner = new TransactionRunner(ds);
  });

  afterAll(async () => {
    await ds.destroy();
    if (E2E_DB === 'postgres') {
      const admin = new Client({ connectionString: PG_URL });
      await admin.connect();
      await admin.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`);
      await admin.end();
    }
    fs.rmSync(dir, { recursive: true, force: true });
  });

  beforeEach(() => ds.query('DELETE FROM t'));

  const insert = (em: EntityManager | DataSource, k: string, v = 1) =>
    rawQuery(em, 'INSERT INTO t (k, v) VALUES ($1, $2)', [k, v]).then((r) => r.affected);
  const stored = async () =>
    (await rawQuery<{ k: string }>(ds, 'SELECT k FROM t ORDER BY k')).rows.map((r) => r.k);

  it('answers RETURNING rows and the number of rows changed', async () => {
    expect(await insert(ds, 'a')).toBe(1);
    expect(await insert(ds, 'b')).toBe(1);
    expect((await rawQuery(ds, 'UPDATE t SET v = $2 WHERE v = $1', [1, 3])).affected).toBe(2);
    const returning = await rawQuery<{ v: number }>(ds, 'UPDATE t SET v = v + 1 WHERE k = $1 RETURNING v', [
      'a',
    ]);
    expect(returning.rows.map((r) => Number(r.v))).toEqual([4]);
    const reused = await rawQuery<{ k: string }>(
      ds,
      'SELECT k FROM t WHERE v = $1 OR v = $1 + $2 ORDER BY k',
      [3, 1],
    );
    expect(reused.rows).toEqual([{ k: 'a' }, { k: 'b' }]);
  });

  it('fails a unique violation with the driver code under a QueryFailedError', async () => {
    await insert(ds, 'a');
    const error = await insert(ds, 'a').catch((e: unknown) => e);
    expect(error).toBeInstanceOf(QueryFailedError);
    expect(isUniqueViolation(error)).toBe(true);
    expect(dependencyUnavailable(error)).toBeUndefined();
  });

  it('rolls back only the unit that throws; the units around it are stored', async () => {
    const results = await Promise.allSettled([
      runner.run((em) => insert(em, 'a')),
      runner.run(async (em) => {
        await insert(em, 'b');
        throw new Error('judged wrong');
      }),
      runner.run((em) => insert(em, 'c')),
    ]);
    expect(results.map((r) => r.status)).toEqual(['fulfilled', 'rejected', 'fulfilled']);
    expect(await stored()).toEqual(['a', 'c']);
  });

  it('BatchedReads: the reads of one turn share one SELECT on PostgreSQL; each caller gets its own rows', async () => {
    await insert(ds, 'a', 1);
    await insert(ds, 'b', 2);
    const one = jest.fn(
      async (k: string) =>
        (await rawQuery<{ k: string; v: number }>(ds, 'SELECT k, v FROM t WHERE k = $1', [k])).rows,
    );
    const many = jest.fn(
      async (ks: string[]) =>
        (await rawQuery<{ k: string; v: number }>(ds, 'SELECT k, v FROM t WHERE k = ANY($1::text[])', [ks]))
          .rows,
    );
    const reads = new BatchedReads(ds, one, many, (row) => row.k);
    const rows = await Promise.all(['a', 'b', 'x', 'a'].map((k) => reads.get(k)));
    expect(rows.map((r) => r.map((row) => Number(row.v)))).toEqual([[1], [2], [], [1]]);
    if (E2E_DB === 'postgres') {
      // one statement for the four reads, each key asked once
      expect(many.mock.calls).toEqual([[['a', 'b', 'x']]]);
      expect(one).not.toHaveBeenCalled();
    } else {
      expect(one.mock.calls).toEqual([['a'], ['b'], ['x'], ['a']]);
      expect(many).not.toHaveBeenCalled();
    }
  });

  it('refuses the unit of a request whose deadline has passed', async () => {
    const scope = new RequestScope(jest.fn());
    scope.expire();
    const work = jest.fn((em: EntityManager) => insert(em, 'late'));
    await expect(runInScope(scope, () => runner.run(work))).rejects.toEqual(DEADLINE_EXCEEDED());
    expect(work).not.toHaveBeenCalled();
    expect(await stored()).toEqual([]);
  });

  if (E2E_DB === 'postgres') {
    it('parses a statement once per connection (a named prepared statement) and keeps it there', async () => {
      const text = 'SELECT count(*) AS n FROM t WHERE v > $1';
      const prepared = await runner.run(async (em) => {
        for (let i = 0; i < 3; i++) await rawQuery(em, text, [i]);
        return rawQuery<{ n: string }>(
          em,
          'SELECT count(*) AS n FROM pg_prepared_statements WHERE statement = $1',
          [text],
        );
      });
      expect(prepared.rows).toEqual([{ n: '1' }]);
    });

    it('run: one transaction on one connection, which TypeORM and the subscribers know of', async () => {
      const events: string[] = [];
      const subscriber = {
        afterTransactionCommit: () => void events.push('commit'),
        afterTransactionRollback: () => void events.push('rollback'),
      };
      ds.subscribers.push(subscriber);
      try {
        await runner.run(async (em) => {
          await insert(em, 'a');
          const { rows } = await rawQuery<{ txid: string | null }>(
            em,
            'SELECT txid_current_if_assigned()::text AS txid, $1::int AS x',
            [1],
          );
          await insert(em, 'b');
          // the insert's transaction is still open: it has an id, and the entity manager opens none of its own
          expect(rows[0].txid).not.toBeNull();
          expect(em.queryRunner?.isTransactionActive).toBe(true);
        });
        expect(await stored()).toEqual(['a', 'b']);
        expect(events).toEqual(['commit']);

        // a failing statement undoes the whole unit, and the connection serves the next one
        const failed = await runner
          .run(async (em) => {
            await insert(em, 'c');
            await insert(em, 'a');
          })
          .catch((e: unknown) => e);
        expect(isUniqueViolation(failed)).toBe(true);
        expect(events).toEqual(['commit', 'rollback']);
        await runner.run((em) => insert(em, 'd'));
        expect(await stored()).toEqual(['a', 'b', 'd']);
        expect(events).toEqual(['commit', 'rollback', 'commit']);
      } finally {
        ds.subscribers.splice(ds.subscribers.indexOf(subscriber), 1);
      }
    });

    it('oneStatement: autocommit on the pool, a statement is visible to others before the work ends', async () => {
      const seenMeanwhile = await runner.oneStatement(async (em) => {
        expect(em.queryRunner).toBeUndefined();
        await insert(em, 'a');
        // another pooled connection already sees it: no transaction holds it back
        const pool = postgresPool(ds);
        const other = await pool.connect();
        try {
          return (await other.query<{ k: string }>('SELECT k FROM t')).rows.map((r) => r.k);
        } finally {
          other.release();
        }
      });
      expect(seenMeanwhile).toEqual(['a']);
      const scope = new RequestScope(jest.fn());
      scope.expire();
      const late = jest.fn((em: EntityManager) => insert(em, 'late'));
      await expect(runInScope(scope, () => runner.oneStatement(late))).rejects.toEqual(DEADLINE_EXCEEDED());
      expect(late).not.toHaveBeenCalled();
    });

    it('keeps a pooled connection after a statement error, and runs on the pool outside a transaction', async () => {
      const pid = async () =>
        (await rawQuery<{ pid: number }>(ds, 'SELECT pg_backend_pid() AS pid, $1::int AS x', [1])).rows[0]
          .pid;
      const pool = postgresPool(ds);
      // one connection at a time: each statement takes the idle one
      const before = await pid();
      await insert(ds, 'a');
      await expect(insert(ds, 'a')).rejects.toMatchObject({ code: '23505' });
      expect(await pid()).toBe(before);
      expect(pool.totalCount).toBeGreaterThanOrEqual(1);
    });

    it('maps a statement the server cancelled (statement_timeout) to "unavailable", as through TypeORM', async () => {
      const error = await rawQuery(ds, 'SELECT pg_sleep($1)', [3]).catch((e: unknown) => e);
      expect(error).toMatchObject({ code: '57014' });
      expect(dependencyUnavailable(error)).toBeDefined();
    });
  }
});
