import { Principal } from '../../auth/principal';
import { CodeHasher } from '../../crypto/code-hasher';
import { DomainError } from '../../errors/domain-error';
import { AppendedEvent, NewEvent, userEvent } from '../../events/event-store';
import { AttemptVerdict, codeContext, judgeAttempt, NoAttemptReason, whyNoAttempt } from '../code-rules';

/** Whose code it is: a user and the organisation that owns the user (for the events). */
export interface CodeSubject {
  id: string;
  orgId: string;
}

/** The event types of one kind of code's checks. */
export interface CheckEvents {
  checkSucceeded: string;
  checkFailed: string;
  checkLocked: string;
}

/**
 * The factor a code belongs to, checked in the statement that takes the attempt (so a check that
 * succeeds needs no read of it); read only when no attempt was taken, and `notFound` answered when the
 * factor is gone.
 */
export interface FactorCondition {
  /** The OTP channel factor (otp_channel_factors.channel) the user must hold. */
  channel: string;
  notFound: () => DomainError;
}

/** Why a code was not accepted. */
export type CodeFailure = NoAttemptReason | 'invalid';

/** A check as a strategy sees it. */
export interface CodeCheck {
  /** Row key and hash context of the kind of code, e.g. `otp-sms`. */
  purpose: string;
  events: CheckEvents;
  caller: Principal;
  subject: CodeSubject;
  code: string;
  factor?: FactorCondition;
  now: number;
  maxAttempts: number;
}

export type CheckOutcome =
  | { kind: 'succeeded'; event: AppendedEvent }
  | { kind: 'failed'; failure: CodeFailure; locked: boolean }
  /** The factor is gone: the check took no attempt and wrote nothing. */
  | { kind: 'refused'; error: DomainError };

/**
 * How a one-time code is checked against the database, one implementation per dialect (chosen by
 * CodeCheckProvider). Either way: count the attempt, then compare. The attempt is spent in a
 * conditional UPDATE (a code pending, unexpired, below the limit, and the factor held) before the
 * code is looked at; a right code is used up (single use) with its event; a failure writes
 * `check.failed`, and `check.locked` when it spent the code's last attempt, in the same transaction.
 */
export abstract class CodeCheckStrategy {
  abstract check(c: CodeCheck): Promise<CheckOutcome>;
}

/** An attempt spent on a user's pending code. */
export interface TakenAttempt {
  codeId: string;
  codeHash: string;
  /** Attempts spent on the code, this one included. */
  attempts: number;
}

/** The row an attempt statement returns (node-pg returns BIGINT as a string). */
export interface TakenRow {
  code_id: string;
  code_hash: string;
  attempts: number | string;
}

export function takenOf(r: TakenRow): TakenAttempt {
  return { codeId: r.code_id, codeHash: r.code_hash, attempts: Number(r.attempts) };
}

const TAKE_ATTEMPT = `UPDATE one_time_codes SET attempts = attempts + 1
   WHERE purpose = $1 AND user_id = $2 AND code_hash IS NOT NULL AND expires_at >= $3 AND attempts < $4`;
const TAKEN = ` RETURNING code_id, code_hash, attempts`;

/**
 * Spends one attempt on the user's pending code, only while it is unexpired and below the limit and,
 * with a factor, while the user holds it. Params: purpose, user_id, now, max attempts (, channel).
 */
export function takeAttemptSql(factor: boolean): string {
  return factor ? TAKE_ATTEMPT_WITH_FACTOR_SQL : TAKE_ATTEMPT_SQL;
}

const TAKE_ATTEMPT_SQL = TAKE_ATTEMPT + TAKEN;
const TAKE_ATTEMPT_WITH_FACTOR_SQL = `${TAKE_ATTEMPT}
     AND EXISTS (SELECT 1 FROM otp_channel_factors f WHERE f.user_id = $2 AND f.channel = $5)${TAKEN}`;

/** The attempt's params, in takeAttemptSql's order. */
export function takeAttemptParams(c: CodeCheck): unknown[] {
  const params: unknown[] = [c.purpose, c.subject.id, c.now, c.maxAttempts];
  if (c.factor) params.push(c.factor.channel);
  return params;
}

/** Uses up the code judged (single use): only one caller's change applies. Params: purpose, user_id, code_id. */
export const CONSUME_SQL = `UPDATE one_time_codes SET code_hash = NULL
   WHERE purpose = $1 AND user_id = $2 AND code_id = $3 AND code_hash IS NOT NULL`;

/** Whether the user still holds the factor. Params: user_id, channel. */
export const FACTOR_SQL = `SELECT 1 AS one FROM otp_channel_factors WHERE user_id = $1 AND channel = $2`;

/** What says why no attempt was taken on the code. Params: purpose, user_id. */
export const FIND_SQL = `SELECT code_hash, expires_at, attempts FROM one_time_codes WHERE purpose = $1 AND user_id = $2`;

/** A row of FIND_SQL. */
export interface FoundRow {
  code_hash: string | null;
  expires_at: number | string;
  attempts: number | string;
}

/** Why no attempt was taken on the code, from its current row. */
export function refusal(c: CodeCheck, row: FoundRow | undefined): CodeFailure {
  return whyNoAttempt(
    row && { codeHash: row.code_hash, expiresAt: Number(row.expires_at), attempts: Number(row.attempts) },
    c.now,
    c.maxAttempts,
  );
}

/** Compares the code with the one the attempt was taken on. */
export function judge(hasher: CodeHasher, c: CodeCheck, t: TakenAttempt): AttemptVerdict {
  return judgeAttempt(hasher, c.code, codeContext(c.purpose, c.subject.id, t.codeId), t, c.maxAttempts);
}

/** The event of a right code. */
export function succeededEvent(c: CodeCheck): NewEvent {
  return userEvent(c.caller, c.subject, c.events.checkSucceeded, {});
}

/**
 * A failed check: its events (`check.failed` with the reason; `check.locked` when the verdict
 * `wrong-exhausted` says this wrong code spent the code's last attempt) and its outcome.
 */
export function failure(
  c: CodeCheck,
  reason: CodeFailure,
  verdict?: AttemptVerdict,
): { events: NewEvent[]; outcome: CheckOutcome } {
  const locked = verdict === 'wrong-exhausted';
  const events = [userEvent(c.caller, c.subject, c.events.checkFailed, { reason })];
  if (locked) events.push(userEvent(c.caller, c.subject, c.events.checkLocked, {}));
  return { events, outcome: { kind: 'failed', failure: reason, locked } };
}
