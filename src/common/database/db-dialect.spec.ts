import Database from 'better-sqlite3';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { DataSource, QueryFailedError } from 'typeorm';
import { isUniqueViolation, portableQuery, rawQuery, retryOnDeadlock, sqliteStatement } from './db-dialect';
import { sqliteConnection } from './driver-handle';

describe('portableQuery', () => {
  it('passes PostgreSQL text and parameters through', () => {
    expect(portableQuery('postgres', 'SELECT $2, $1', ['a', 'b'])).toEqual({
      sql: 'SELECT $2, $1',
      params: ['a', 'b'],
    });
  });

  it('binds one value per SQLite placeholder, in order of appearance, for reused and out-of-order placeholders', () => {
    const q = portableQuery('sqlite', 'UPDATE t SET a = $3 WHERE id = $1 AND b = $2 AND c > $3 AND d = $10', [
      'id',
      'b',
      3,
      4,
      5,
      6,
      7,
      8,
      9,
      'ten',
    ]);
    expect(q.sql).toBe('UPDATE t SET a = ? WHERE id = ? AND b = ? AND c > ? AND d = ?');
    expect(q.params).toEqual([3, 'id', 'b', 3, 'ten']);
  });
});

describe('retryOnDeadlock', () => {
  const deadlock = Object.assign(new Error('deadlock detected'), { code: '40P01' });

  it('runs a statement that lost a deadlock again', async () => {
    const statement = jest.fn().mockRejectedValueOnce(deadlock).mockResolvedValueOnce(['row']);
    await expect(retryOnDeadlock(statement)).resolves.toEqual(['row']);
    expect(statement).toHaveBeenCalledTimes(2);
  });

  it('gives up after the last attempt with the deadlock error', async () => {
    const statement = jest.fn().mockRejectedValue(deadlock);
    await expect(retryOnDeadlock(statement, 3)).rejects.toBe(deadlock);
    expect(statement).toHaveBeenCalledTimes(3);
  });

  it('does not run a statement again for any other error', async () => {
    const other = Object.assign(new Error('unique violation'), { code: '23505' });
    const statement = jest.fn().mockRejectedValue(other);
    await expect(retryOnDeadlock(statement)).rejects.toBe(other);
    expect(statement).toHaveBeenCalledTimes(1);
  });
});

/** rawQuery on a real SQLite file: the driver's prepared statements, kept per connection. */
describe('rawQuery on SQLite', () => {
  let dir: string;
  let ds: DataSource;
  let db: Database.Database;

  beforeEach(async () => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'raw-query-'));
    ds = new DataSource({ type: 'better-sqlite3', database: path.join(dir, 'db.sqlite') });
    await ds.initialize();
    await ds.query('CREATE TABLE t (k TEXT PRIMARY KEY, v INTEGER NOT NULL, flag INTEGER)');
    db = sqliteConnection(ds);
  });

  afterEach(async () => {
    await ds.destroy();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it('prepares a SQL text once per connection and reuses the statement', async () => {
    const prepare = jest.spyOn(db, 'prepare');
    const text = 'INSERT INTO t (k, v) VALUES ($1, $2)';
    for (const k of ['a', 'b', 'c']) await rawQuery(ds, text, [k, 1]);
    expect(prepare).toHaveBeenCalledTimes(1);
    expect(sqliteStatement(db, text)).toBe(sqliteStatement(db, text));
    expect(prepare).toHaveBeenCalledTimes(1);
  });

  it('answers rows for statements that return rows (RETURNING too) and changes for the others', async () => {
    expect(await rawQuery(ds, 'INSERT INTO t (k, v) VALUES ($1, $2)', ['a', 1])).toEqual({
      rows: [],
      affected: 1,
    });
    await rawQuery(ds, 'INSERT INTO t (k, v) VALUES ($1, $2)', ['b', 1]);
    expect(await rawQuery(ds, 'UPDATE t SET v = $2 WHERE v = $1', [1, 5])).toEqual({ rows: [], affected: 2 });
    expect(await rawQuery(ds, 'UPDATE t SET v = v + 1 WHERE k = $1 RETURNING v', ['a'])).toEqual({
      rows: [{ v: 6 }],
      affected: 0,
    });
    expect((await rawQuery(ds, 'SELECT k FROM t WHERE v >= $1 ORDER BY k', [5])).rows).toEqual([
      { k: 'a' },
      { k: 'b' },
    ]);
  });

  it('binds a placeholder used twice or out of order by its number, and booleans as 0/1', async () => {
    await rawQuery(ds, 'INSERT INTO t (k, v, flag) VALUES ($2, $1, $3)', [7, 'a', true]);
    await rawQuery(ds, 'INSERT INTO t (k, v, flag) VALUES ($1, $2, $3)', ['b', 8, false]);
    const { rows } = await rawQuery(
      ds,
      'SELECT k, flag FROM t WHERE v >= $1 AND v < $1 + $2 ORDER BY k',
      [7, 2],
    );
    expect(rows).toEqual([
      { k: 'a', flag: 1 },
      { k: 'b', flag: 0 },
    ]);
  });

  it('keeps the driver error and its code under a QueryFailedError', async () => {
    await rawQuery(ds, 'INSERT INTO t (k, v) VALUES ($1, $2)', ['a', 1]);
    const error = await rawQuery(ds, 'INSERT INTO t (k, v) VALUES ($1, $2)', ['a', 1]).catch(
      (e: unknown) => e,
    );
    expect(error).toBeInstanceOf(QueryFailedError);
    expect(error).toMatchObject({
      code: 'SQLITE_CONSTRAINT_PRIMARYKEY',
      driverError: { code: 'SQLITE_CONSTRAINT_PRIMARYKEY' },
    });
    expect(isUniqueViolation(error)).toBe(true);
    // a statement that does not prepare fails the same way
    await expect(rawQuery(ds, 'SELECT * FROM missing WHERE k = $1', ['a'])).rejects.toMatchObject({
      driverError: { code: 'SQLITE_ERROR' },
    });
  });

  it('runs inside the transaction of the EntityManager it is given', async () => {
    await expect(
      ds.transaction(async (em) => {
        await rawQuery(em, 'INSERT INTO t (k, v) VALUES ($1, $2)', ['a', 1]);
        expect(db.inTransaction).toBe(true);
        expect((await rawQuery(em, 'SELECT k FROM t', [])).rows).toEqual([{ k: 'a' }]);
        throw new Error('undo');
      }),
    ).rejects.toThrow('undo');
    expect((await rawQuery(ds, 'SELECT k FROM t')).rows).toEqual([]);
  });
});
