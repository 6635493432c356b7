import { POOL_QUEUE_FULL, QUERY_READ_TIMEOUT } from '../database/bounded-pool';
import { DomainError, Errors } from './domain-error';

/** Seconds a client is asked to wait before retrying when the database is unavailable or saturated. */
export const DATABASE_RETRY_AFTER_SECONDS = 2;

/** Node socket errors: the database cannot be reached or the connection broke. */
const SOCKET_CODES = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'ECONNABORTED',
  'ETIMEDOUT',
  'EPIPE',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'ENOTFOUND',
  'EAI_AGAIN',
]);

/**
 * PostgreSQL SQLSTATEs of a temporary failure, whatever the statement held: connection exceptions
 * (class 08), insufficient resources such as too many connections or a full disk (53), operator
 * intervention such as statement_timeout, shutdown and "cannot connect now" (57), system errors (58),
 * and a lock not obtained in time (55P03).
 */
const SQLSTATES = /^((08|53|57|58)[0-9A-Z]{3}|55P03)$/;

/** pg's and pg-pool's own messages for a lost connection, a connect timeout and a read timeout. */
const DRIVER_MESSAGES = [
  /^Connection terminated/,
  /^timeout exceeded when trying to connect$/,
  new RegExp(`^${QUERY_READ_TIMEOUT}$`),
  /is not queryable/,
  /^the database system is (starting up|shutting down|in recovery mode)/,
];

/**
 * The one place that decides whether an error means "the database is unavailable for now" (down,
 * frozen, overloaded, restarting) rather than a bug: such errors become 503 UNAVAILABLE with
 * Retry-After, in each API family's format, instead of 500. Returns the reason (a code, never a driver
 * message, which could quote data) for the log, or undefined for any other error.
 */
export function unavailabilityReason(error: unknown): string | undefined {
  const seen = new Set<unknown>();
  const queue: unknown[] = [error];
  while (queue.length > 0) {
    const e = queue.shift();
    if (!e || typeof e !== 'object' || seen.has(e)) continue;
    seen.add(e);
    const { code, message, driverError, cause, errors } = e as {
      code?: unknown;
      message?: unknown;
      driverError?: unknown;
      cause?: unknown;
      errors?: unknown;
    };
    if (code === POOL_QUEUE_FULL) return 'connection pool queue full';
    if (typeof code === 'string' && SOCKET_CODES.has(code)) return code;
    if (typeof code === 'string' && SQLSTATES.test(code)) return `SQLSTATE ${code}`;
    if (code === 'SQLITE_BUSY') return code;
    if (typeof message === 'string') {
      const known = DRIVER_MESSAGES.find((re) => re.test(message));
      if (known) return known.source.replace(/[\\^$]/g, '');
    }
    queue.push(driverError, cause, ...(Array.isArray(errors) ? errors : []));
  }
  return undefined;
}

/** The domain error for an unavailable database, or undefined when `error` is something else. */
export function dependencyUnavailable(error: unknown): DomainError | undefined {
  const reason = unavailabilityReason(error);
  if (reason === undefined) return undefined;
  return Errors.unavailable('DB-Unavl1', 'The service is temporarily unavailable; retry later', {
    retryAfterSeconds: DATABASE_RETRY_AFTER_SECONDS,
    cause: error,
  });
}
