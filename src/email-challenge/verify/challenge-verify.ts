import { CodeHasher } from '../../common/crypto/code-hasher';
import { NewEvent } from '../../common/events/event-store';
import {
  AttemptVerdict,
  attemptsRemaining,
  judgeAttempt,
  wrongCodeExhausts,
} from '../../common/one-time-code/code-rules';
import { challengeCodeContext, challengeEvent, EmailChallengeEvents } from '../email-challenge.events';

/** A verify request as a strategy sees it; the code is already trimmed. */
export interface VerifyAttempt {
  /** A well-formed id (RANDOM_ID_PATTERN): the service refuses any other before a strategy runs. */
  challengeId: string;
  /** The caller, who must be the challenge's subject. */
  userId: string;
  code: string;
  now: number;
}

export type VerifyOutcome =
  | { kind: 'verified'; verifiedAt: number }
  | { kind: 'wrong'; remaining: number; locked: boolean }
  /** No attempt could be taken (or the challenge changed meanwhile): the caller reads it to say why. */
  | { kind: 'refused' };

/**
 * How a verify runs against the database, one implementation per dialect (chosen by
 * ChallengeVerifyProvider). Either way: count the attempt, then compare. The attempt is spent in a
 * conditional UPDATE before the code is looked at, so no more than max_attempts codes are ever
 * compared; it only counts for the subject on a verifiable challenge, so it answers the usual request
 * alone. A right code verifies the challenge with its event and gives its attempt back; a wrong one
 * keeps it spent, and the last one locks the challenge. Same work on a hit as on a miss: the attempt,
 * the hash under every configured key, a constant-time compare, one more statement.
 */
export abstract class ChallengeVerifyStrategy {
  abstract verify(a: VerifyAttempt): Promise<VerifyOutcome>;
}

/** An attempt spent on a challenge's code: what the comparison and the events need. */
export interface TakenAttempt {
  /** The subject's organisation (the resource owner of the events). */
  orgId: string;
  codeHash: string | null;
  generation: number;
  /** Attempts spent on the challenge, this one included. */
  attempts: number;
  maxAttempts: number;
}

/** The row an attempt statement returns (node-pg returns BIGINT as a string). */
export interface TakenRow {
  org_id: string;
  code_hash: string | null;
  generation: number | string;
  attempts: number | string;
  max_attempts: number | string;
}

export function takenOf(r: TakenRow): TakenAttempt {
  return {
    orgId: r.org_id,
    codeHash: r.code_hash,
    generation: Number(r.generation),
    attempts: Number(r.attempts),
    maxAttempts: Number(r.max_attempts),
  };
}

/**
 * Spends one attempt of the caller on the code: only while the challenge is the caller's, PENDING,
 * unexpired and below max_attempts. Params: id, now, user_id.
 */
export const TAKE_ATTEMPT_SQL = `UPDATE email_challenges SET attempts = attempts + 1
   WHERE id = $1 AND user_id = $3 AND status = 'PENDING' AND expires_at > $2 AND attempts < max_attempts
   RETURNING org_id, code_hash, generation, attempts, max_attempts`;

/**
 * PENDING → VERIFIED only if the stored hash is still the one judged; the attempt taken is given back
 * (a right code costs none). Params: id, code hash, now.
 */
export const VERIFY_SQL = `UPDATE email_challenges SET status = 'VERIFIED', verified_at = $3, code_hash = NULL, attempts = attempts - 1
   WHERE id = $1 AND status = 'PENDING' AND code_hash = $2`;

/** A wrong code spent the last attempt: the challenge is locked and its code forgotten. Params: id. */
export const LOCK_SQL = `UPDATE email_challenges SET status = 'LOCKED', code_hash = NULL WHERE id = $1`;

/** Compares the code with the one the attempt was taken on. */
export function judge(hasher: CodeHasher, a: VerifyAttempt, t: TakenAttempt): AttemptVerdict {
  return judgeAttempt(hasher, a.code, challengeCodeContext(a.challengeId, t.generation), t, t.maxAttempts);
}

/** The event of a verified challenge. */
export function verifiedEvent(a: VerifyAttempt, t: TakenAttempt): NewEvent {
  return challengeEvent({ id: a.challengeId, orgId: t.orgId }, a.userId, EmailChallengeEvents.verified);
}

/** A wrong code: whether it locks the challenge, the attempts left, and its events. */
export function wrongCode(
  a: VerifyAttempt,
  t: TakenAttempt,
): { locked: boolean; outcome: VerifyOutcome; events: NewEvent[] } {
  const locked = wrongCodeExhausts(t.attempts, t.maxAttempts);
  const challenge = { id: a.challengeId, orgId: t.orgId };
  const events = [
    challengeEvent(challenge, a.userId, EmailChallengeEvents.checkFailed, { attempts: t.attempts }),
  ];
  if (locked) events.push(challengeEvent(challenge, a.userId, EmailChallengeEvents.locked));
  return {
    locked,
    outcome: { kind: 'wrong', remaining: attemptsRemaining(t.attempts, t.maxAttempts), locked },
    events,
  };
}
