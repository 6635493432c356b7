import { portableQuery, retryOnDeadlock } from './db-dialect';

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
