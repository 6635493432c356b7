import { NewEvent } from '../common/events/event-store';
import { codeContext } from '../common/one-time-code/code-rules';

/** The event types of the `email_challenge` aggregate. */
export const EmailChallengeEvents = {
  added: 'mfa.email_challenge.added',
  removed: 'mfa.email_challenge.removed',
  verified: 'mfa.email_challenge.verified',
  checkFailed: 'mfa.email_challenge.check.failed',
  locked: 'mfa.email_challenge.locked',
  codeResent: 'mfa.email_challenge.code.resent',
  consumed: 'mfa.email_challenge.consumed',
} as const;

/** The aggregate type every email-challenge event is appended to. */
export const EMAIL_CHALLENGE_AGGREGATE = 'email_challenge';

/** An event of the challenge `challenge` (owned by its subject's organisation), caused by `creator`. */
export function challengeEvent(
  challenge: { id: string; orgId: string },
  creator: string,
  eventType: string,
  payload?: Record<string, unknown>,
): NewEvent {
  return {
    aggregateType: EMAIL_CHALLENGE_AGGREGATE,
    aggregateId: challenge.id,
    resourceOwner: challenge.orgId,
    creator,
    eventType,
    payload,
  };
}

/** The HMAC context of a code: the challenge and the sending (generation) it belongs to. */
export function challengeCodeContext(challengeId: string, generation: number): string {
  return codeContext('email-challenge', challengeId, generation);
}
