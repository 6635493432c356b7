/** Event types of the OTP Email factor. */
export const OTP_EMAIL_EVENTS = {
  added: 'user.human.otp.email.added',
  removed: 'user.human.otp.email.removed',
  codeAdded: 'user.human.otp.email.code.added',
  checkSucceeded: 'user.human.otp.email.check.succeeded',
  checkFailed: 'user.human.otp.email.check.failed',
  checkLocked: 'user.human.otp.email.check.locked',
} as const;
