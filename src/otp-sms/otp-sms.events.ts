/** The event types the OTP SMS module appends to the `user` aggregate. */
export const OtpSmsEvents = {
  added: 'user.human.mfa.otp.sms.added',
  codeAdded: 'user.human.mfa.otp.sms.code.added',
  codeSent: 'user.human.mfa.otp.sms.code.sent',
  verified: 'user.human.mfa.otp.sms.verified',
  removed: 'user.human.mfa.otp.sms.removed',
  checkSucceeded: 'user.human.mfa.otp.sms.check.succeeded',
  checkFailed: 'user.human.mfa.otp.sms.check.failed',
} as const;
