import { Principal } from '../../common/auth/principal';
import { AppendedEvent, NewEvent, userEvent } from '../../common/events/event-store';
import { RECOVERY_EVENTS } from '../recovery-codes.events';

/** A check as a strategy sees it: the code already hashed under every configured key. */
export interface CodeCheck {
  caller: Principal;
  userId: string;
  hashes: string[];
  now: number;
  /** The attempt window (OTP_LOCKOUT_SECONDS) and the failures it allows (OTP_MAX_ATTEMPTS). */
  windowMs: number;
  maxAttempts: number;
}

export type CheckOutcome =
  | { kind: 'used'; event: AppendedEvent; remaining: number }
  /** A wrong code; `locked` when it used up the window's attempts. */
  | { kind: 'wrong'; locked: boolean }
  /** The window's attempts are used up: nothing was written. */
  | { kind: 'locked'; retryAfterSeconds: number }
  /** The user has no recovery codes (or does not exist): nothing was written. */
  | { kind: 'none' };

/**
 * How a recovery code check runs against the database, one implementation per dialect (chosen by
 * RecoveryCheckProvider). Either way, and atomically against concurrent checks in this and other
 * processes: an attempt of the user's window is taken with one conditional UPDATE before any code is
 * compared (no set, or a full window: no attempt, nothing written); the code is used up by one
 * conditional DELETE whose affected row decides the winner, with its event; a success gives its
 * attempt back; a failure is committed with its attempt and its events.
 */
export abstract class RecoveryCheckStrategy {
  abstract check(c: CodeCheck): Promise<CheckOutcome>;
}

/** An attempt taken on a user's set (TAKE_ATTEMPT_SQL). */
export interface TakenAttempt {
  /** The attempts spent in the window, this one included. */
  attempts: number;
  windowStartedAt: number;
  /** The codes the set held when the attempt was taken. */
  codes: number;
  /** The user's organisation: the owner of the check's events. */
  orgId: string;
}

/** A row of TAKE_ATTEMPT_SQL (node-pg returns BIGINT and COUNT as strings). */
export interface TakenRow {
  user_id: string;
  attempts: number | string;
  window_started_at: number | string;
  codes: number | string;
  org_id: string;
}

/**
 * Takes an attempt: a new window starts when the previous one is over; a set whose window is full
 * matches no row. It also answers what the rest of the check needs, so the check reads nothing else:
 * the codes the set holds and the user's organisation (a set exists only for an existing human user:
 * it is written for one and goes with the user).
 */
export const takeAttemptSql = (
  o: Record<'userId' | 'cutoff' | 'now' | 'max', string>,
  from = '',
) => `UPDATE recovery_code_sets
   SET attempts = CASE WHEN window_started_at <= ${o.cutoff} THEN 1 ELSE attempts + 1 END,
       window_started_at = CASE WHEN window_started_at <= ${o.cutoff} THEN ${o.now} ELSE window_started_at END${from}
   WHERE recovery_code_sets.user_id = ${o.userId} AND (attempts < ${o.max} OR window_started_at <= ${o.cutoff})
   RETURNING recovery_code_sets.user_id, attempts, window_started_at,
     (SELECT COUNT(*) FROM recovery_codes r WHERE r.user_id = ${o.userId}) AS codes,
     (SELECT u.org_id FROM users u WHERE u.id = ${o.userId}) AS org_id`;

/** Params: user_id, window cutoff, now, max attempts. */
export const TAKE_ATTEMPT_SQL = takeAttemptSql({ userId: '$1', cutoff: '$2', now: '$3', max: '$4' });

/**
 * A successful check gives its attempt back, while the window it was taken in is still the current
 * one (the window's start tells). Params: user_id, the window's start.
 */
export const REFUND_SQL = `UPDATE recovery_code_sets SET attempts = attempts - 1
   WHERE user_id = $1 AND attempts > 0 AND window_started_at = $2`;

/** The set's window, when no attempt could be taken. Params: user_id. */
export const FIND_SET_SQL = `SELECT window_started_at FROM recovery_code_sets WHERE user_id = $1`;

/** A row of FIND_SET_SQL. */
export interface SetRow {
  window_started_at: number | string;
}

/** Uses up the code whose hash is one of `$2..$n+1` (the code under each configured key). Params: user_id, hashes. */
export function useCodeSql(hashes: number): string {
  let sql = useCodeTexts.get(hashes);
  if (sql === undefined) {
    const list = Array.from({ length: hashes }, (_, i) => `$${i + 2}`).join(', ');
    useCodeTexts.set(
      hashes,
      (sql = `DELETE FROM recovery_codes WHERE user_id = $1 AND code_hash IN (${list})`),
    );
  }
  return sql;
}

/** useCodeSql's texts, by the number of hashes (the configured keys: one or two). */
const useCodeTexts = new Map<number, string>();

export function takenOf(r: TakenRow): TakenAttempt {
  return {
    attempts: Number(r.attempts),
    windowStartedAt: Number(r.window_started_at),
    codes: Number(r.codes),
    orgId: r.org_id,
  };
}

/**
 * The codes left once the check's code is used: counted when its attempt was taken, whose row lock
 * keeps every other check of the user waiting until this one commits.
 */
export function remainingAfter(t: TakenAttempt): number {
  return Math.max(0, t.codes - 1);
}

/** The event of a used code. */
export function usedEvent(c: CodeCheck, t: TakenAttempt): NewEvent {
  return userEvent(c.caller, { id: c.userId, orgId: t.orgId }, RECOVERY_EVENTS.checkSucceeded, {
    remaining: remainingAfter(t),
  });
}

/** A wrong code: whether it used up the window, and its events (the failure, and the lock if it locked). */
export function wrongCode(c: CodeCheck, t: TakenAttempt): { locked: boolean; events: NewEvent[] } {
  const locked = t.attempts >= c.maxAttempts;
  const owner = { id: c.userId, orgId: t.orgId };
  const events = [userEvent(c.caller, owner, RECOVERY_EVENTS.checkFailed, {})];
  if (locked) events.push(userEvent(c.caller, owner, RECOVERY_EVENTS.checkLocked, {}));
  return { locked, events };
}

/** Why no attempt could be taken: no set, or its window is full until it ends. */
export function refusal(c: CodeCheck, set: SetRow | undefined): CheckOutcome {
  if (!set) return { kind: 'none' };
  const endsIn = Number(set.window_started_at) + c.windowMs - c.now;
  return { kind: 'locked', retryAfterSeconds: Math.max(1, Math.ceil(endsIn / 1000)) };
}
