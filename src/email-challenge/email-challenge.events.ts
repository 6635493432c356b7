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
