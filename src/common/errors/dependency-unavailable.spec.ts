import { QueryFailedError } from 'typeorm';
import { POOL_QUEUE_FULL } from '../database/bounded-pool';
import { dependencyUnavailable, unavailabilityReason } from './dependency-unavailable';

const withCode = (code: string, message = 'x') => Object.assign(new Error(message), { code });

describe('dependencyUnavailable (database errors that mean "retry later")', () => {
  it.each([
    ['connection refused', withCode('ECONNREFUSED', 'connect ECONNREFUSED 127.0.0.1:5432'), 'ECONNREFUSED'],
    ['connection reset', withCode('ECONNRESET'), 'ECONNRESET'],
    ['several addresses refused', new AggregateError([withCode('ECONNREFUSED')]), 'ECONNREFUSED'],
    ['pool queue full', withCode(POOL_QUEUE_FULL), 'connection pool queue full'],
    [
      'connect timeout (pool)',
      new Error('timeout exceeded when trying to connect'),
      'timeout exceeded when trying to connect',
    ],
    [
      'connect timeout (client)',
      new Error('Connection terminated due to connection timeout'),
      'Connection terminated',
    ],
    ['lost connection', new Error('Connection terminated unexpectedly'), 'Connection terminated'],
    ['client-side query timeout', new Error('Query read timeout'), 'Query read timeout'],
    [
      'statement_timeout',
      withCode('57014', 'canceling statement due to statement timeout'),
      'SQLSTATE 57014',
    ],
    ['admin shutdown', withCode('57P01'), 'SQLSTATE 57P01'],
    ['cannot connect now', withCode('57P03', 'the database system is starting up'), 'SQLSTATE 57P03'],
    ['connection failure class 08', withCode('08006'), 'SQLSTATE 08006'],
    ['too many connections', withCode('53300'), 'SQLSTATE 53300'],
    ['a full disk', withCode('53100'), 'SQLSTATE 53100'],
    ['an I/O error on the server', withCode('58030'), 'SQLSTATE 58030'],
    ['SQLite busy beyond its timeout', withCode('SQLITE_BUSY', 'database is locked'), 'SQLITE_BUSY'],
  ])('%s → 503 UNAVAILABLE with Retry-After', (_name, error, reason) => {
    expect(unavailabilityReason(error)).toBe(reason);
    const err = dependencyUnavailable(error);
    expect(err?.kind).toBe('UNAVAILABLE');
    expect(err?.status).toBe(503);
    expect(err?.options.retryAfterSeconds).toBeGreaterThanOrEqual(1);
  });

  it('looks through TypeORM’s QueryFailedError to the driver error', () => {
    const wrapped = new QueryFailedError(
      'SELECT 1',
      [],
      withCode('57014', 'canceling statement due to statement timeout'),
    );
    expect(unavailabilityReason(wrapped)).toBe('SQLSTATE 57014');
    expect(unavailabilityReason(new Error('outer', { cause: withCode('ECONNREFUSED') }))).toBe(
      'ECONNREFUSED',
    );
  });

  it.each([
    ['a bug', new TypeError('x is undefined')],
    ['a unique violation', withCode('23505', 'duplicate key value violates unique constraint')],
    ['a syntax error', withCode('42601')],
    ['a SQLite constraint', withCode('SQLITE_CONSTRAINT_UNIQUE')],
    ['not an error', 'boom'],
  ])('leaves %s alone (500)', (_name, error) => {
    expect(dependencyUnavailable(error)).toBeUndefined();
  });
});
