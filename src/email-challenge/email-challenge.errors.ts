import { DomainError, EMAIL_API_DEFAULT_CODE, EmailApiCode, Errors } from '../common/errors/domain-error';
import { challengeStatusResult, tagOutcome } from '../common/observability/verify-outcome';
import { ChallengeStatus } from './dto/email-challenge.dto';

const GONE_MESSAGES: Record<Exclude<ChallengeStatus, 'PENDING'>, string> = {
  EXPIRED: 'The challenge has expired',
  VERIFIED: 'The challenge has already been verified',
  CONSUMED: 'The challenge has already been consumed',
  LOCKED: 'The challenge is locked after too many wrong codes',
};

/** Every error of the email-challenge API; wire codes only from EMAIL_API_CODES. */
export const EmailChallengeErrors = {
  notFound: () => Errors.notFound(undefined, 'Challenge not found', { apiCode: 'CHALLENGE_NOT_FOUND' }),
  userNotFound: () =>
    Errors.notFound(undefined, 'User not found or without a verified email address', {
      apiCode: 'USER_NOT_FOUND',
    }),
  notSubject: () =>
    Errors.permissionDenied(undefined, 'Only the subject user of the challenge may verify it', {
      apiCode: 'USER_ID_DOES_NOT_MATCH_WITH_CHALLENGE_SUBJECT_USER_ID',
    }),
  forbidden: () =>
    Errors.permissionDenied(
      undefined,
      'Only the subject user or a holder of mfa.challenge.write may access the challenge',
      {
        apiCode: 'FORBIDDEN',
      },
    ),
  gone: (status: Exclude<ChallengeStatus, 'PENDING'>) =>
    tagOutcome(Errors.gone(undefined, GONE_MESSAGES[status], { apiCode: 'CHALLENGE_NOT_FOUND' }), {
      result: challengeStatusResult(status),
    }),
  invalidCode: (remaining: number) =>
    Errors.invalidArgument(
      undefined,
      remaining > 0
        ? `The code is invalid; ${remaining} attempt${remaining === 1 ? '' : 's'} remaining`
        : 'The code is invalid; no attempts remain, the challenge is now locked',
      { apiCode: 'INVALID_OTP' },
    ),
  notVerified: () =>
    Errors.failedPrecondition(undefined, 'The challenge is not verified yet', { apiCode: 'BAD_REQUEST' }),
  contextPurged: () =>
    Errors.notFound(undefined, 'The step-up request context of the challenge is no longer available', {
      apiCode: 'STEP_UP_REQUEST_CONTEXT_NOT_FOUND',
    }),
  cooldown: (retryAfterSeconds: number) =>
    Errors.resourceExhausted(undefined, `A code was sent recently; retry in ${retryAfterSeconds} seconds`, {
      apiCode: 'FORBIDDEN',
      retryAfterSeconds,
    }),
  mailFailed: (cause?: unknown) =>
    Errors.unavailable(undefined, 'The email with the code could not be sent; try again later', {
      apiCode: 'INTERNAL_SERVER_ERROR',
      cause,
    }),
};

/** The wire code (without prefix) and message an error of the catalog is rendered with: for the OpenAPI examples. */
export function exampleOf(e: DomainError): { code: EmailApiCode; message: string } {
  return { code: e.options.apiCode ?? EMAIL_API_DEFAULT_CODE[e.kind], message: e.message };
}
