import { Principal } from '../../common/auth/principal';
import { CodeHasher } from '../../common/crypto/code-hasher';
import { numOrNull } from '../../common/database/columns';
import { AppendedEvent, NewEvent, userEvent } from '../../common/events/event-store';
import {
  AttemptVerdict,
  codeContext,
  judgeAttempt,
  NoAttemptReason,
  whyNoAttempt,
} from '../../common/one-time-code/code-rules';
import { OtpSmsState } from '../entities/otp-sms-authenticator.entity';
import { OtpSmsEvents } from '../otp-sms.events';

/** What a code is for: proving the number (PENDING) or signing in (READY). */
export type Purpose = 'registration' | 'sign-in';

/** Why a code could not be used: decides the error and whether the failure is recorded. */
export type CodeFailure = 'notFound' | 'wrongState' | NoAttemptReason | 'invalid';

/** A code sent to be used, as a strategy sees it. The code is compared exactly as sent. */
export interface CodeUse {
  caller: Principal;
  /** The authenticator's user (read and scoped by the service). */
  user: { id: string; orgId: string };
  otpSmsId: string;
  code: string;
  purpose: Purpose;
  now: number;
  maxAttempts: number;
}

export type CodeUseOutcome =
  { kind: 'used'; event: AppendedEvent } | { kind: 'failed'; failure: CodeFailure; lockoutStarted: boolean };

/**
 * How a code is used against the database, one implementation per dialect (chosen by
 * CodeUseProvider). Either way: count the attempt, then compare. The attempt is spent in a
 * conditional UPDATE (authenticator in the purpose's state, a code pending, unexpired, below the
 * limit) before the code is looked at; a right code is used up (single use) with its event, and a
 * registration makes the authenticator ready. A failed sign-in is recorded as `check.failed` in the
 * same transaction, so it stays although the request fails.
 */
export abstract class CodeUseStrategy {
  abstract use(u: CodeUse): Promise<CodeUseOutcome>;
}

/** The state an authenticator must be in for a code of `purpose`. */
export const stateFor = (purpose: Purpose): OtpSmsState => (purpose === 'registration' ? 'PENDING' : 'READY');

/** The hash context of a code: the authenticator and the code's generation. */
export function smsCodeContext(id: string, generation: number): string {
  return codeContext('otp-sms', id, generation);
}

/** An attempt spent on an authenticator's pending code. */
export interface TakenAttempt {
  codeHash: string;
  codeGeneration: number;
  /** Attempts spent on the code, this one included. */
  attempts: number;
}

/** The row an attempt statement returns (node-pg returns BIGINT as a string). */
export interface TakenRow {
  code_hash: string;
  code_generation: number | string;
  code_attempts: number | string;
}

export function takenOf(r: TakenRow): TakenAttempt {
  return {
    codeHash: r.code_hash,
    codeGeneration: Number(r.code_generation),
    attempts: Number(r.code_attempts),
  };
}

/**
 * Spends one attempt on the pending code, only while the user's authenticator is in the state and
 * its code unexpired and below the limit. Params: id, user_id, state, now, max attempts.
 */
export const TAKE_ATTEMPT_SQL = `UPDATE otp_sms_authenticators SET code_attempts = code_attempts + 1
   WHERE id = $1 AND user_id = $2 AND state = $3 AND code_hash IS NOT NULL
     AND code_expires_at >= $4 AND code_attempts < $5
   RETURNING code_hash, code_generation, code_attempts`;

/**
 * Uses up the pending code of the generation judged (only one caller's change applies); a
 * registration also makes the authenticator ready. Params: now, id, generation.
 */
export function consumeSql(purpose: Purpose): string {
  return purpose === 'registration' ? CONSUME_AND_READY_SQL : CONSUME_SQL;
}

const CONSUME = `UPDATE otp_sms_authenticators
   SET code_hash = NULL, code_expires_at = NULL, code_attempts = 0, changed_at = $1`;
const CONSUME_WHERE = ` WHERE id = $2 AND code_generation = $3 AND code_hash IS NOT NULL`;
const CONSUME_SQL = CONSUME + CONSUME_WHERE;
const CONSUME_AND_READY_SQL = `${CONSUME}, state = 'READY'${CONSUME_WHERE}`;

/** What says why no attempt could be taken. Params: id, user_id. */
export const FIND_SQL = `SELECT state, code_hash, code_expires_at, code_attempts
   FROM otp_sms_authenticators WHERE id = $1 AND user_id = $2`;

/** A row of FIND_SQL. */
export interface FoundRow {
  state: OtpSmsState;
  code_hash: string | null;
  code_expires_at: number | string | null;
  code_attempts: number | string;
}

/** Why no attempt could be taken, from the current row: the authenticator's own reasons, then the code's. */
export function refusal(u: CodeUse, row: FoundRow | undefined): CodeFailure {
  if (!row) return 'notFound';
  if (row.state !== stateFor(u.purpose)) return 'wrongState';
  return whyNoAttempt(
    {
      codeHash: row.code_hash,
      expiresAt: numOrNull(row.code_expires_at),
      attempts: Number(row.code_attempts),
    },
    u.now,
    u.maxAttempts,
  );
}

/** Compares the code with the one the attempt was taken on. */
export function judge(hasher: CodeHasher, u: CodeUse, t: TakenAttempt): AttemptVerdict {
  return judgeAttempt(hasher, u.code, smsCodeContext(u.otpSmsId, t.codeGeneration), t, u.maxAttempts);
}

/** The event of a used code: the number verified, or a sign-in checked. */
export function usedEvent(u: CodeUse): NewEvent {
  const type = u.purpose === 'registration' ? OtpSmsEvents.verified : OtpSmsEvents.checkSucceeded;
  return userEvent(u.caller, u.user, type, { otpSmsId: u.otpSmsId });
}

/**
 * The event that records a failed sign-in, if it is recorded: not for an unknown authenticator or
 * one in the other state (nothing was attempted on a sign-in code).
 */
export function failedEvent(u: CodeUse, failure: CodeFailure): NewEvent | undefined {
  if (u.purpose !== 'sign-in' || failure === 'notFound' || failure === 'wrongState') return undefined;
  return userEvent(u.caller, u.user, OtpSmsEvents.checkFailed, { otpSmsId: u.otpSmsId, reason: failure });
}

/** A failed use: the verdict `wrong-exhausted` means this wrong code spent the code's last attempt. */
export function failed(failure: CodeFailure, verdict?: AttemptVerdict): CodeUseOutcome {
  return { kind: 'failed', failure, lockoutStarted: verdict === 'wrong-exhausted' };
}
