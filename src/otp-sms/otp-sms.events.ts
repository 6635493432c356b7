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

/** Event types of the v2 OTP SMS factor (the v3alpha authenticators keep their own `user.human.mfa.otp.sms.*`). */
export const OTP_SMS_V2_EVENTS = {
  added: 'user.human.otp.sms.added',
  removed: 'user.human.otp.sms.removed',
  codeAdded: 'user.human.otp.sms.code.added',
  checkSucceeded: 'user.human.otp.sms.check.succeeded',
  checkFailed: 'user.human.otp.sms.check.failed',
  checkLocked: 'user.human.otp.sms.check.locked',
} as const;
