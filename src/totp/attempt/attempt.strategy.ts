import { SecretBox } from '../../common/crypto/secret-box';
import { AppendedEvent } from '../../common/events/event-store';
import { matchStep } from '../totp-algorithm';
import { AttemptPlan, AttemptRequest, decideAttempt, ReservedFactor } from './attempt-decision';
import { FactorRow } from './attempt.sql';

export type AttemptOutcome =
  /** No factor in the required state takes codes now (missing, other state, locked or at the limit). */
  | { kind: 'unavailable' }
  | { kind: 'accepted'; event: AppendedEvent }
  /** A wrong code; `locked` when it was the failure that locked the factor. */
  | { kind: 'rejected'; locked: boolean }
  /** The code of the step accepted last: refused, but the attempt was given back. */
  | { kind: 'replayed' };

/**
 * How a code attempt runs against the database, one implementation per dialect (chosen by
 * AttemptStrategyProvider). Atomic against concurrent attempts in this and other processes:
 * the attempt is counted (reserved) before the code is judged – no factor row → `unavailable` – then
 * the plan of decideAttempt (planAttempt) is carried out and the events appended with it.
 */
export abstract class AttemptStrategy {
  abstract attempt(request: AttemptRequest): Promise<AttemptOutcome>;
}

/**
 * Opens the reserved factor's secret, matches the code and decides. Synchronous: on SQLite it runs
 * inside the transaction.
 */
export function planAttempt(box: SecretBox, request: AttemptRequest, factor: ReservedFactor): AttemptPlan {
  const secret = box.open(factor.secretSealed, factor.userId);
  return decideAttempt(request, factor, matchStep(secret, request.code, request.now));
}

export function reservedFactorOf(r: FactorRow): ReservedFactor {
  return {
    userId: r.user_id,
    orgId: r.org_id,
    secretSealed: r.secret_sealed,
    lastStep: Number(r.last_step),
    failedAttempts: Number(r.failed_attempts),
    windowStartedAt: Number(r.window_started_at),
    lockouts: Number(r.lockouts),
  };
}
