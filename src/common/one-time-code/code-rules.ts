import { CodeHasher, randomDigits } from '../crypto/code-hasher';

/**
 * The rules every one-time code follows, whatever table holds it (the v2 code factors, the v3alpha
 * SMS authenticators, the email challenges): how a code is made and hashed, how long it lives, how
 * soon another may be sent, and how an attempt on it is judged. Each module keeps its own storage
 * and statements and maps the outcomes below to its own errors.
 */

/** A new code and the only form of it that is stored. */
export interface IssuedCode {
  code: string;
  codeHash: string;
}

/** An attempt already spent on a code (counted before the comparison): what judging it needs. */
export interface SpentAttempt {
  codeHash: string | null;
  /** Attempts spent on the code, this one included. */
  attempts: number;
}

/** The outcome of one attempt: the right code, a wrong one, or a wrong one that spent the last attempt. */
export type AttemptVerdict = 'match' | 'wrong' | 'wrong-exhausted';

/** A pending code as read back after no attempt could be taken on it. */
export interface PendingCode {
  codeHash: string | null;
  expiresAt: number | null;
  attempts: number;
}

/** Why no attempt could be taken on a code: none pending (used, discarded, replaced), past its lifetime, or out of attempts. */
export type NoAttemptReason = 'noCode' | 'expired' | 'exhausted';

/**
 * The hash context of a code: what it is for, whose it is and which sending it belongs to (a
 * generation or a random id), so a hash copied to another row or left over from an older code does
 * not verify.
 */
export function codeContext(purpose: string, ownerId: string, sending: string | number): string {
  return `${purpose}:${ownerId}:${sending}`;
}

/** A new code: `digits` uniform digits from the CSPRNG, with its keyed hash bound to `context`. */
export function issueCode(hasher: CodeHasher, digits: number, context: string): IssuedCode {
  const code = randomDigits(digits);
  return { code, codeHash: hasher.hash(code, context) };
}

/** When a code issued at `now` stops being valid. */
export function codeExpiresAt(now: number, ttlSeconds: number): number {
  return now + ttlSeconds * 1000;
}

/**
 * Whether a code is past its lifetime: it is still valid at the instant `expiresAt` itself. (An
 * email challenge reads EXPIRED from that instant on instead; its status rule keeps its own
 * comparison, so no answer of either API moves by a millisecond.)
 */
export function isExpired(expiresAt: number, now: number): boolean {
  return expiresAt < now;
}

/**
 * The latest send time that no longer holds a new code back: a code sent at or before it is out of
 * its cooldown (the bound the conditional statements compare the last send time with).
 */
export function cooldownCutoff(now: number, cooldownSeconds: number): number {
  return now - cooldownSeconds * 1000;
}

/** Whether the last code (sent at `lastSentAt`, null when none was) still holds a new one back. */
export function inCooldown(lastSentAt: number | null, now: number, cooldownSeconds: number): boolean {
  return lastSentAt !== null && lastSentAt > cooldownCutoff(now, cooldownSeconds);
}

/**
 * Whole seconds until a new code may be sent (Retry-After), at least 1: the request was refused, so
 * the caller must wait. An unknown last send (a concurrent removal) counts as `now`.
 */
export function cooldownRetryAfterSeconds(
  lastSentAt: number | null | undefined,
  now: number,
  cooldownSeconds: number,
): number {
  return Math.max(1, Math.ceil(((lastSentAt ?? now) + cooldownSeconds * 1000 - now) / 1000));
}

/** Attempts left on a code after `attempts` were spent (never below 0). */
export function attemptsRemaining(attempts: number, maxAttempts: number): number {
  return Math.max(0, maxAttempts - attempts);
}

/** A wrong code: whether the attempt it spent was the code's last. */
export function wrongCodeExhausts(attempts: number, maxAttempts: number): boolean {
  return attempts >= maxAttempts;
}

/**
 * Judges a code against an attempt already spent on it: compared in constant time under every
 * configured key (the same work on a hit as on a miss); a wrong code that spent the last attempt
 * leaves the code exhausted.
 */
export function judgeAttempt(
  hasher: CodeHasher,
  code: string,
  context: string,
  spent: SpentAttempt,
  maxAttempts: number,
): AttemptVerdict {
  if (hasher.verify(code, context, spent.codeHash ?? '')) return 'match';
  return wrongCodeExhausts(spent.attempts, maxAttempts) ? 'wrong-exhausted' : 'wrong';
}

/** Why no attempt could be taken on the pending code, from the code as it is now. */
export function whyNoAttempt(c: PendingCode | undefined, now: number, maxAttempts: number): NoAttemptReason {
  if (!c || !c.codeHash || c.expiresAt === null) return 'noCode';
  if (isExpired(c.expiresAt, now)) return 'expired';
  if (c.attempts >= maxAttempts) return 'exhausted';
  return 'noCode';
}
