/** SQLSTATE classes that say the server cannot serve now, whatever the statement held. */
const UNAVAILABLE_CLASSES = new Set([
  '08', // connection exception
  '53', // insufficient resources
  '57', // operator intervention: shutdown, statement timeout, cancel
  '58', // system error
]);

/**
 * Whether a failed PostgreSQL statement may have failed because of the values one of its rows held
 * (bad data such as a NUL character, a constraint, a lost deadlock): the server reported an error
 * about the statement itself (a SQLSTATE) that is not about the server being unavailable. Errors
 * without a SQLSTATE (no connection, pool time-outs) are never one row's fault.
 */
export function mayBeOneRowsFault(error: unknown): boolean {
  const code = (error as { code?: unknown } | null)?.code;
  return typeof code === 'string' && /^[0-9A-Z]{5}$/.test(code) && !UNAVAILABLE_CLASSES.has(code.slice(0, 2));
}
