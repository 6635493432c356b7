/**
 * The statements of a code attempt, shared by both dialects' strategies. Written with `$n`
 * placeholders; the PostgreSQL batch variants read the same operands from `unnest`ed rows.
 */

/** The operands of a statement: SQLite binds them as parameters, PostgreSQL reads a batch's from `unnest`ed rows. */
type Operands<K extends string> = Record<K, string>;

/**
 * Counts the attempt before the code is judged, in one conditional UPDATE: a new window starts when the
 * previous one is over (or after a success); a factor that is locked or has used up its attempts in
 * the window matches no row.
 */
export const reserveSql = (
  o: Operands<'userId' | 'now' | 'cutoff' | 'max' | 'state'>,
  from = '',
) => `UPDATE totp_factors SET
     failed_attempts = CASE WHEN failed_attempts = 0 OR window_started_at <= ${o.cutoff} THEN 1 ELSE failed_attempts + 1 END,
     window_started_at = CASE WHEN failed_attempts = 0 OR window_started_at <= ${o.cutoff} THEN ${o.now} ELSE window_started_at END${from}
   WHERE totp_factors.user_id = ${o.userId} AND state = ${o.state} AND locked_until <= ${o.now}
     AND (failed_attempts < ${o.max} OR window_started_at <= ${o.cutoff})
   RETURNING totp_factors.user_id, org_id, secret_sealed, last_step, failed_attempts, window_started_at, lockouts`;

/**
 * Consumes the accepted step: only a later step than the last accepted one wins (replay protection),
 * and a success clears the attempt counter and the lockout history.
 */
export const consumeSql = (
  o: Operands<'userId' | 'step' | 'newState' | 'now' | 'state'>,
  from = '',
) => `UPDATE totp_factors
   SET state = ${o.newState}, last_step = ${o.step}, failed_attempts = 0, window_started_at = 0, lockouts = 0,
     locked_until = 0, updated_at = ${o.now}${from}
   WHERE totp_factors.user_id = ${o.userId} AND last_step < ${o.step} AND state = ${o.state}`;

/**
 * A replay of the step accepted last (a client submitting one code twice, a double click) is no guess
 * at the secret: gives back the attempt the reservation counted. Matches only while `last_step` is that
 * step; the attempt is given back only while the window it was counted in is still the current one (a
 * success in between already reset the counter). Params: user_id, step, the reservation's window start.
 */
export const REFUND_SQL = `UPDATE totp_factors SET
     failed_attempts = CASE WHEN failed_attempts > 0 AND window_started_at = $3 THEN failed_attempts - 1 ELSE failed_attempts END,
     window_started_at = CASE WHEN failed_attempts = 1 AND window_started_at = $3 THEN 0 ELSE window_started_at END
   WHERE user_id = $1 AND last_step = $2
   RETURNING user_id`;

/** Locks after the max-th failure (unless a success reset the counter meanwhile). Params: user_id, locked_until, now, max. */
export const LOCK_SQL = `UPDATE totp_factors SET locked_until = $2, lockouts = lockouts + 1, failed_attempts = 0,
     window_started_at = 0, updated_at = $3
   WHERE user_id = $1 AND failed_attempts >= $4`;

/** A row the reservation returns (node-pg returns BIGINT as a string). */
export interface FactorRow {
  user_id: string;
  org_id: string;
  secret_sealed: string;
  last_step: number | string;
  failed_attempts: number;
  window_started_at: number | string;
  lockouts: number;
}
