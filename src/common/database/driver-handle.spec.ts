import Database from 'better-sqlite3';
import { prepareNumbered } from './driver-handle';

describe('prepareNumbered', () => {
  const db = new Database(':memory:');
  afterAll(() => db.close());

  it('binds $1..$n by number, repeated and out of order, afresh on every call', () => {
    const stmt = prepareNumbered(db, 'SELECT $2 AS b, $1 AS a, $1 || $2 AS ab');
    expect(stmt.get('x', 'y')).toEqual({ b: 'y', a: 'x', ab: 'xy' });
    expect(stmt.get(1, null)).toEqual({ b: null, a: 1, ab: null });
    expect(stmt.get('p', 'q')).toEqual({ b: 'q', a: 'p', ab: 'pq' });
  });

  it('keeps statements apart and reports changes', () => {
    db.exec('CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT)');
    const insert = prepareNumbered(db, 'INSERT INTO t (id, v) VALUES ($1, $2)');
    const read = prepareNumbered(db, 'SELECT v FROM t WHERE id = $1');
    expect(insert.run(1, 'one').changes).toBe(1);
    expect(insert.run(2, 'two').changes).toBe(1);
    expect(read.get(1)).toEqual({ v: 'one' });
    expect(read.get(2)).toEqual({ v: 'two' });
    expect(read.get(3)).toBeUndefined();
  });
});
