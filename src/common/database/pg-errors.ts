import { unavailabilityReason } from '../errors/dependency-unavailable';

/**
 * Whether a failed PostgreSQL statement may have failed because of the values one of its rows held
 * (bad data such as a NUL character, a constraint, a lost deadlock): the server reported an error
 * about the statement itself (a SQLSTATE) that does not mean the database is unavailable (the one
 * classification the exception filter uses for 503). Errors without a SQLSTATE (no connection, pool
 * time-outs) are never one row's fault.
 */
export function mayBeOneRowsFault(error: unknown): boolean {
  const code = (error as { code?: unknown } | null)?.code;
  return typeof code === 'string' && /^[0-9A-Z]{5}$/.test(code) && unavailabilityReason(error) === undefined;
}
