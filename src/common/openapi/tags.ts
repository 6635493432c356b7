import type { OpenAPIObject } from '@nestjs/swagger';

/**
 * The document's tags, in the order Swagger UI shows them: the four MFA APIs first, each naming its
 * core operation, then the identity APIs they stand on. Every tag a controller uses is listed here
 * (the browser test checks it), so none appears without a description.
 */
export const API_TAGS: NonNullable<OpenAPIObject['tags']> = [
  {
    name: 'User Service',
    description:
      "ZITADEL User Service v2: a user's TOTP generator (authenticator app). Core operation: **Verify a TOTP generator for a user** – `POST /v2/users/{userId}/totp/verify` (VerifyTOTPRegistration), with a code of the app, completes the registration started by `POST /v2/users/{userId}/totp`. `_check` is an extension of this service.",
  },
  {
    name: 'User Authentication Factor',
    description:
      "ZITADEL Auth API v1: the authenticated user's own One-Time-Password factor (`/auth/v1/users/me/…`, acts on the token's user). Core operation: **Verify One-Time-Password (OTP)** – `POST /auth/v1/users/me/auth_factors/otp/_verify` (VerifyMyAuthFactorOTP) completes the factor added by `POST /auth/v1/users/me/auth_factors/otp`.",
  },
  {
    name: 'User Service v3alpha – OTP SMS',
    description:
      'ZITADEL Resources v3alpha: OTP SMS authenticators of a user. Core operation: **Verify OTP SMS registration** – `POST /resources/v3alpha/users/{id}/otp_sms/{otpSmsId}/_verify` (VerifyOTPSMSRegistration); its body is the code itself as a JSON string, e.g. `"12345678"`. Add the authenticator first (with `returnCode: {}` the code comes back in the answer instead of by SMS). `_resend`, `_challenge` and `_check` are extensions of this service.',
  },
  {
    name: 'Email challenges',
    description:
      "Step-up challenges by email, this service's own API with its own error body. Core operation: **Verify time-based one-time password email challenge** – `POST /internal/v1/mfa/totp-email/{challengeId}:verify` (verifyEmail), called by the challenge's user with the 6-digit code from the mail. A backend creates the challenge before and consumes it after.",
  },
  {
    name: 'Users',
    description:
      'Identity, in ZITADEL v2 shapes: human and machine users, their states and personal access tokens (a PAT is what the Authorize button takes).',
  },
  { name: 'Organizations', description: 'Identity: organisations and their members.' },
  {
    name: 'Instance',
    description: 'Identity: instance-wide members (IAM_OWNER, IAM_USER_MANAGER, MFA_CHALLENGE_ISSUER).',
  },
];
