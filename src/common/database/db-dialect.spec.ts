import { portableQuery } from './db-dialect';

describe('portableQuery', () => {
  it('passes PostgreSQL text and parameters through', () => {
    expect(portableQuery('postgres', 'SELECT $2, $1', ['a', 'b'])).toEqual({ sql: 'SELECT $2, $1', params: ['a', 'b'] });
  });

  it('binds one value per SQLite placeholder, in order of appearance, for reused and out-of-order placeholders', () => {
    const q = portableQuery('sqlite', 'UPDATE t SET a = $3 WHERE id = $1 AND b = $2 AND c > $3 AND d = $10', [
      'id', 'b', 3, 4, 5, 6, 7, 8, 9, 'ten',
    ]);
    expect(q.sql).toBe('UPDATE t SET a = ? WHERE id = ? AND b = ? AND c > ? AND d = ?');
    expect(q.params).toEqual([3, 'id', 'b', 3, 'ten']);
  });
});
