import { applyDecorators } from '@nestjs/common';
import { ApiExtraModels, ApiResponse } from '@nestjs/swagger';
import { EMAIL_API_CODE_PREFIX, EmailApiCode } from '../common/errors/domain-error';
import { EmailChallengeErrorDto, EmailChallengeFieldErrorDto } from './dto/email-challenge-error.dto';
import { EmailChallengeErrors as Errors, exampleOf } from './email-challenge.errors';

/** One error response: its description, and the code and message of its example (defaults per status below). */
export type EmailErrorResponse = string | { description: string; code: EmailApiCode; message: string };

/** What each status usually carries; a route names another code where it differs. */
const DEFAULT_EXAMPLES: Record<number, { code: EmailApiCode; message: string }> = {
  400: { code: 'BAD_REQUEST', message: 'The request is invalid' },
  401: { code: 'UNAUTHORIZED', message: 'auth header missing' },
  403: exampleOf(Errors.forbidden()),
  404: exampleOf(Errors.notFound()),
  410: exampleOf(Errors.gone('EXPIRED')),
  429: exampleOf(Errors.cooldown(12)),
  500: { code: 'INTERNAL_SERVER_ERROR', message: 'An internal error occurred' },
  503: exampleOf(Errors.mailFailed()),
};

/**
 * Documents error responses of an email-challenge route, all with the 7-property error body, each with
 * an example that shows its own status and code.
 */
export function EmailChallengeErrorResponses(path: string, responses: Record<number, EmailErrorResponse>) {
  return applyDecorators(
    ApiExtraModels(EmailChallengeErrorDto, EmailChallengeFieldErrorDto),
    ...Object.entries(responses).map(([key, response]) => {
      const status = Number(key);
      const { description, ...example } =
        typeof response === 'string' ? { description: response, ...DEFAULT_EXAMPLES[status] } : response;
      return ApiResponse({
        status,
        description,
        type: EmailChallengeErrorDto,
        example: {
          code: EMAIL_API_CODE_PREFIX + example.code,
          message: example.message,
          requestId: '3f0c2a4e-8d1b-4b7e-9a51-0c6f2f1d9e7a',
          fieldErrors: [],
          status,
          timestamp: '2025-03-05T21:29:22.094Z',
          path,
        },
      });
    }),
  );
}

/** The examples the routes show beside the defaults above, taken from the error catalog. */
export const EmailErrorExamples = {
  userNotFound: exampleOf(Errors.userNotFound()),
  notSubject: exampleOf(Errors.notSubject()),
  invalidCode: exampleOf(Errors.invalidCode(4)),
  notVerified: exampleOf(Errors.notVerified()),
};

/** The error table (README "Email challenges"): what each status means on these routes. */
export const EmailErrorDocs = {
  badRequest:
    'BAD_REQUEST: validation failed (see fieldErrors), or the challenge is not verified yet (`:consume`).',
  unauthorized: 'UNAUTHORIZED: missing or invalid bearer token.',
  forbidden: 'FORBIDDEN: the caller is neither the subject user nor holds mfa.challenge.write.',
  notSubject:
    'USER_ID_DOES_NOT_MATCH_WITH_CHALLENGE_SUBJECT_USER_ID: the caller is not the challenge’s subject user.',
  notFound: 'CHALLENGE_NOT_FOUND: no challenge with this id.',
  userNotFound: 'USER_NOT_FOUND: no active human user with a verified email address has this id.',
  consumeNotFound:
    'CHALLENGE_NOT_FOUND: no challenge with this id; STEP_UP_REQUEST_CONTEXT_NOT_FOUND: the request context was purged.',
  gone: 'CHALLENGE_NOT_FOUND: the challenge exists but is expired, already verified or consumed, or locked (the message says which).',
  cooldown: 'FORBIDDEN: a code was sent less than EMAIL_RESEND_COOLDOWN_SECONDS ago; see Retry-After.',
  unavailable: 'INTERNAL_SERVER_ERROR: the email could not be sent (no challenge is left behind on create).',
  internal: 'INTERNAL_SERVER_ERROR: unexpected error.',
};
