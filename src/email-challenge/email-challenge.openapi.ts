import { applyDecorators } from '@nestjs/common';
import { ApiExtraModels, ApiResponse } from '@nestjs/swagger';
import { EmailChallengeErrorDto, EmailChallengeFieldErrorDto } from './dto/email-challenge-error.dto';

/** Documents error responses of an email-challenge route, all with the 7-property error body. */
export function EmailChallengeErrorResponses(responses: Record<number, string>) {
  return applyDecorators(
    ApiExtraModels(EmailChallengeErrorDto, EmailChallengeFieldErrorDto),
    ...Object.entries(responses).map(([status, description]) =>
      ApiResponse({ status: Number(status), description, type: EmailChallengeErrorDto }),
    ),
  );
}

/** The error table (README "Email challenges"): what each status means on these routes. */
export const E = {
  badRequest: 'BAD_REQUEST: validation failed (see fieldErrors), or the challenge is not verified yet (`:consume`).',
  invalidOtp: 'INVALID_OTP: wrong code (the message says how many attempts remain); BAD_REQUEST: validation failed.',
  unauthorized: 'UNAUTHORIZED: missing or invalid bearer token.',
  forbidden: 'FORBIDDEN: the caller is neither the subject user nor holds mfa.challenge.write.',
  notSubject: 'USER_ID_DOES_NOT_MATCH_WITH_CHALLENGE_SUBJECT_USER_ID: the caller is not the challenge’s subject user.',
  notFound: 'CHALLENGE_NOT_FOUND: no challenge with this id.',
  userNotFound: 'USER_NOT_FOUND: no active human user with a verified email address has this id.',
  consumeNotFound: 'CHALLENGE_NOT_FOUND: no challenge with this id; STEP_UP_REQUEST_CONTEXT_NOT_FOUND: the request context was purged.',
  gone: 'CHALLENGE_NOT_FOUND: the challenge exists but is expired, already verified or consumed, or locked (the message says which).',
  cooldown: 'FORBIDDEN: a code was sent less than EMAIL_RESEND_COOLDOWN_SECONDS ago; see Retry-After.',
  unavailable: 'INTERNAL_SERVER_ERROR: the email could not be sent (no challenge is left behind on create).',
  internal: 'INTERNAL_SERVER_ERROR: unexpected error.',
};
