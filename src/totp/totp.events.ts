/** The event types the TOTP module appends to a user's aggregate (ZITADEL's names). */
export const TotpEvents = {
  added: 'user.human.mfa.otp.added',
  verified: 'user.human.mfa.otp.verified',
  removed: 'user.human.mfa.otp.removed',
  checkSucceeded: 'user.human.mfa.otp.check.succeeded',
  checkFailed: 'user.human.mfa.otp.check.failed',
} as const;

export type TotpEventType = (typeof TotpEvents)[keyof typeof TotpEvents];
