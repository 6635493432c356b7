import { TotpState } from '../entities/totp-factor.entity';

/** The factor as the reservation that counted this attempt left it. */
export interface ReservedFactor {
  userId: string;
  orgId: string;
  secretSealed: string;
  lastStep: number;
  /** Attempts in the window including this one. */
  failedAttempts: number;
  /** Start of the window this attempt was counted in. */
  windowStartedAt: number;
  lockouts: number;
}

/** One code attempt against a user's factor, as the service asks for it. */
export interface AttemptRequest {
  userId: string;
  code: string;
  now: number;
  /** Only a factor in this state takes codes on this path. */
  requiredState: TotpState;
  /** Attempts per window; the max-th failure locks the factor. */
  maxAttempts: number;
  windowMs: number;
  /** The first lockout's length; each further one doubles it (lockoutMs). */
  lockoutSeconds: number;
  creator: string;
  onSuccess: { state: TotpState; eventType: string };
  /** Event appended on a failed or replayed attempt (none: failures are only counted). */
  failureEventType?: string;
}

/**
 * What to do with a counted attempt, decided before any statement runs. A strategy carries it out in
 * this order, each step a conditional statement whose row count settles races with other attempts:
 * 1. `consume`, if any: the first success wins → accepted, with the success event;
 * 2. otherwise `refund`, if any: gives the attempt back when the step is the one accepted last
 *    (a replay, also of a concurrent attempt's success) → replayed, with the failure event;
 * 3. otherwise the attempt stays counted; `lock`, if any, locks the factor unless a success reset the
 *    counter meanwhile → rejected, with the failure event.
 */
export interface AttemptPlan {
  consume?: { step: number; state: TotpState; eventType: string };
  refund?: { step: number; windowStartedAt: number };
  lock?: { until: number; maxAttempts: number };
  failureEventType?: string;
}

/**
 * The payload of a failure event that says more than "a wrong code": a replayed code (someone else may
 * have seen it) and the failure that locked the factor. Both ask for a security notification.
 */
export function failurePayload(replayed: boolean, locked: boolean): Record<string, unknown> | undefined {
  if (replayed) return { reason: 'replayed' };
  return locked ? { reason: 'invalid', locked: true } : undefined;
}

/** Lockouts double from the base, capped at a day (or the base, when that is longer). */
export function lockoutMs(baseSeconds: number, previousLockouts: number): number {
  const base = baseSeconds * 1000;
  return Math.min(base * 2 ** Math.min(previousLockouts, 20), Math.max(base, 86_400_000));
}

/**
 * The rules of an attempt, without I/O: `matchedStep` is the time step the code matches (undefined
 * for a wrong code). Only a step later than the last accepted one can be consumed (the last accepted
 * one itself is a replay); the attempt that uses up the window's attempts locks the factor.
 */
export function decideAttempt(
  request: AttemptRequest,
  factor: ReservedFactor,
  matchedStep: number | undefined,
): AttemptPlan {
  const plan: AttemptPlan = { failureEventType: request.failureEventType };
  if (matchedStep !== undefined) {
    if (matchedStep > factor.lastStep) plan.consume = { step: matchedStep, ...request.onSuccess };
    plan.refund = { step: matchedStep, windowStartedAt: factor.windowStartedAt };
  }
  if (factor.failedAttempts >= request.maxAttempts) {
    plan.lock = {
      until: request.now + lockoutMs(request.lockoutSeconds, factor.lockouts),
      maxAttempts: request.maxAttempts,
    };
  }
  return plan;
}
